"""Local stand-ins for the services the gateway talks to."""
