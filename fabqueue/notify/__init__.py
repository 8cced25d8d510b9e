"""Telling people: notices on their page and e-mails from an outbox that survives a
restart. ``outbox`` writes messages in the transaction of the change that causes them
(it imports only the models, so ``states`` may call it); ``sender`` sends them."""
