"""The fake's guesses, in one place: where DigitalOcean's answer is undocumented, what the fake answers.

Each field is one ASSUMPTION with its reason; the default is the guess. Flip a field
(``FakeDigitalOcean(assumptions=Assumptions(refuse_over_budget_pool=False))``) to test that a client is
right under the other outcome too. The open questions are listed in DigitalOcean's API notes (§12).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Assumptions"]


@dataclass(frozen=True)
class Assumptions:
    #: A PUT that changes a pool's mode answers 422. Why: the docs say the mode "cannot be modified after
    #: creation", while the PUT schema requires ``mode``. False: the PUT changes the mode.
    refuse_mode_change: bool = True
    #: A pool whose size exceeds the cluster's remaining connection budget answers 422. Why: the budget is
    #: documented (25 per GiB - 3, shared by all pools) but not what happens beyond it; 422 is DigitalOcean's
    #: validation status (tf #925). False: the pool is created/updated anyway.
    refuse_over_budget_pool: bool = True
    #: A 22nd pool answers 422. Why: "each database cluster supports 21 PgBouncer pools" (limits page); the
    #: answer beyond is undocumented. False: it is created.
    refuse_pool_beyond_limit: bool = True
    #: A resize of a cluster that is not online (resizing, migrating) answers 422. Why: "you cannot
    #: reconfigure or resize a cluster while upgrading it"; only 412 during maintenance has been seen.
    #: False: the resize is accepted (and queued after the running one).
    refuse_busy_resize: bool = True
    #: The cluster's status while ``install_update`` runs. Why: DigitalOcean replicates to a new cluster and
    #: switches DNS, which the status enum calls ``migrating``. "online": the status never changes; only
    #: ``maintenance_window.pending`` clears at the end.
    update_busy_status: str = "migrating"
    #: When ``maintenance_window.pending`` turns false during ``install_update``: "completion" or "start". Why:
    #: the flag says whether updates are still to be installed, so the fake clears it once they are. "start":
    #: it clears as soon as the update begins (the updates are no longer *pending*, they are running).
    update_pending_clears: str = "completion"
    #: When an ``install_update`` logs its ``cluster_maintenance_perform`` event in ``GET .../events``:
    #: "completion" or "start". Why: the event type is documented, its timing is not; "perform" reads as
    #: "performed". "start": logged when the update begins.
    maintenance_event_logged: str = "completion"
    #: A pool named like one of the cluster's databases answers 422 "pool name is not available". Why: the
    #: pool's name is the database name clients give PgBouncer, and that message was traced by DigitalOcean
    #: staff to a name conflict (tf #925). False: the pool is created.
    refuse_pool_named_like_database: bool = True
    #: ``PATCH .../config`` merges a nested object (``pgbouncer``) key by key, as it does the top level. Why:
    #: the spec says a PATCH changes only the keys sent and is silent on nested objects; a merge is what a
    #: PATCH means elsewhere in the API. False: a ``pgbouncer`` object sent replaces the stored one whole.
    config_merge_nested: bool = True
