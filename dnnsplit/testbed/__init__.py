"""The method on real processes (docs/testbed.md): the BS (:mod:`~dnnsplit.testbed.server`),
a device (:mod:`~dnnsplit.testbed.device`), the wire between them
(:mod:`~dnnsplit.testbed.protocol`), and a testbed of emulated devices on one host
(:mod:`~dnnsplit.testbed.emulation`, :mod:`~dnnsplit.testbed.experiment`) that measures
the model's error. PyTorch is needed to run a network (the ``profile`` extra); importing
this package, the protocol and the scheduling rules is not.
"""
