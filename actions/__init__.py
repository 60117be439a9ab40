"""Custom actions of the assistant.

The rasa-sdk executor discovers every Action subclass in this package.
"""
