"""Placeholder until the docs page lands."""
from flask import Blueprint

bp = Blueprint("docs", __name__)
