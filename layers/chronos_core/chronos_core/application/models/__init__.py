"""Model definitions: create, read, list, update and delete.

Every use case acts for the calling :class:`~chronos_core.domain.auth.Principal`: models of a
FIWARE service the caller does not hold are invisible (404), and creating one there is forbidden
(403). Role checks happen at the entry point.
"""
