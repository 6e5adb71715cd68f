"""beatssl_lite: Beat-SSL (rhythm- and beat-level contrastive learning for 12-lead ECG) re-implemented, step by step.

One module per step of the method, in the order a record flows through them:
data -> synthetic -> vcg -> augment -> beats -> delineation -> features -> targets -> plots.
"""

__version__ = "0.1.0"
