"""The function this example's layer serves: it imports requests from /opt/python."""

import requests


def lambda_handler(event, context):
    return {"requests": requests.__version__}
