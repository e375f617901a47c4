"""Several hub nodes on one PostgreSQL and one Redis acting as one hub (SPEC §6).

``redis_state`` is the state the nodes share in Redis (the lobby lock and document, topic seqs,
epochs and logs, node liveness); ``relay`` carries what they publish to each node's subscribers.
Nothing here is imported by a hub started without ``--broker``.
"""
