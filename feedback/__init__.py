"""Corrections people send from the drawing page ("that was a ৩, not a ৮"): the table that keeps
them (models), its migrations, the store the gateway and the CLIs read and write through, and the
export to the evaluation format. Plain Python and SQLAlchemy: the gateway imports this package and
never numpy or torch (only feedback.export does, and the gateway never imports it)."""
