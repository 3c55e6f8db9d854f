"""Bridges to the schedulers tenants already use: Kueue and Slurm.

Export of a scenario's tenancy as their configuration (``narvik export kueue|slurm``) and
import of their accounting as narvik traces (``narvik import sacct|kueue-workloads``). The
emulations of their scheduling live in :mod:`narvik.sched` (``--policy kueue|slurm``) and
take their configuration from the same mapping (:mod:`narvik.sched.kueue_config`,
:mod:`narvik.sched.slurm_config`).
"""
