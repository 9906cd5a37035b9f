"""`python -m neuronb ...` runs the `neuronb` command; this is what `torchrun -m neuronb ...` launches
(one process per GPU for DistributedDataParallel training). Written by hand."""
from neuronb.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
