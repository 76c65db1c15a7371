"""Adapters: one package per national message format, behind one contract.

``adapters.contract`` states the contract; ``adapters.registry`` finds adapters;
``adapters.pipeline`` turns untrusted bytes into a canonical payload or findings.
"""
