import pluggy

#: The pluggy project name: every hook of the contract is marked with it.
PROJECT_NAME = "crm"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
