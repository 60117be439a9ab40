"""Rules of the account service, independent of HTTP: each function takes a session."""
