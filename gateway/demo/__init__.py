"""``kpgw demo``: the main job on a laptop: a local broker, the gateway, realistic traffic
from real partner pairs over HTTP, and a summary a customs official understands."""
