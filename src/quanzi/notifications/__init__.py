"""Notifications: the in-app message centre and the SMS / WeChat channels."""
