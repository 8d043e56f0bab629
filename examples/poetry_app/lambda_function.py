"""The function this example's layer serves: requests and PyYAML come from /opt/python."""

import requests
import yaml


def lambda_handler(event, context):
    return {"requests": requests.__version__, "yaml": yaml.__version__}
