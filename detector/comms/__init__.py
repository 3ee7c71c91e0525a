"""What comms reads about an incident (``facts``) and the public update drafted from it (``draft``)."""
