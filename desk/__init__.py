"""The desk: where people take the conversations the bot handed off.

``desk.store`` keeps the desk's items (one per handed-off conversation, built from the events stream),
``desk.agents`` the people at each tenant's desk, ``desk.views`` a conversation as a person at the desk reads
it (translated into their language). The desk sits between ``api`` and ``agent``: it uses the agent's
conversations, profiles, events and translator, and nothing in ``agent`` knows about it.
"""
