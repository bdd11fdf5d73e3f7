"""The method on real processes: a split-inference BS server, a device client, and a
testbed of emulated devices on one host that measures the model's error.

- :mod:`~dnnsplit.testbed.protocol`: the binary framing (a fixed header, raw tensor bytes);
- :mod:`~dnnsplit.testbed.server`: the BS (``dnnsplit serve``), SJF / RR / FCFS at stage
  boundaries, on one compute thread;
- :mod:`~dnnsplit.testbed.device`: the device (``dnnsplit device``), one CSV row a request;
- :mod:`~dnnsplit.testbed.emulation`: CPU cgroups, network namespaces, ``tc``, clean-up;
- :mod:`~dnnsplit.testbed.experiment`: ``dnnsplit testbed``, predictions against
  measurements.

PyTorch is needed to run a network (the ``profile`` extra); importing this package, the
protocol and the scheduling rules is not.
"""
