"""Adapters implementing the application ports (MongoDB, AWS, FIWARE, inference runtimes)."""
