"""Input channels of the Rasa server that Rasa's own do not cover as they are."""
