"""Dashboards for the bureaus: figures per region read from summary tables that a job refreshes."""
