"""Notification channels: signed webhooks, SNS topics and Smart Data Models ``Alert`` entities
in Orion, behind one :class:`~chronos_core.adapters.notify.notifier.ChannelNotifier`."""
