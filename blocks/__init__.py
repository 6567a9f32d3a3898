"""This project's block documents: the Casey credentials its deployments read.

The block *type* lives in the library (``casey_flows.CaseyCredentials``); what is here is the
project's own set-up of it: ``python -m blocks.setup``.
"""
