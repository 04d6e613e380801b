"""Detection: normalised signals become a few correct, deduplicated incidents with a lifecycle.

``rules`` judges windows and alerts, ``windows`` keeps event-time windows, ``detector`` runs
the incident lifecycle for one thread group and region, ``cascade`` links failing components
to the customer-facing incident above them, ``maintenance`` owns announced work windows, and
``impact`` sums targeting's reports into the share of customers affected.
"""
