"""Pages for people: the home page."""

from flask import Blueprint, render_template

from .builds import current_build

blueprint = Blueprint("pages", __name__)


@blueprint.get("/")
def home():
    build = current_build()
    return render_template("home.html", info=build.info)
