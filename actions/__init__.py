"""Custom actions of the assistant; the rasa-sdk executor discovers every Action subclass in this package."""
