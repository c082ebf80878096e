"""The ``polydesk`` command line: ``main`` (the app), ``common`` (what every command shares), and one module
per group of commands: ``knowledge``, ``answering``, ``events``, ``inbox``, ``serve``, ``evals``, ``demo``."""
