"""The function this example's layer serves: requests and pydantic come from /opt/python."""

import pydantic
import requests


def lambda_handler(event, context):
    return {"requests": requests.__version__, "pydantic": pydantic.VERSION}
