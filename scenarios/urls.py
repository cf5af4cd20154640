from core.api import api_route

from .apis import (
    ScenarioCreateApi,
    ScenarioDetailApi,
    ScenarioEndApi,
    ScenarioListApi,
    ScenarioMessagesApi,
    ScenarioModeApi,
    ScenarioPauseApi,
    ScenarioResumeApi,
)

ECOSYSTEM = r"ecosystem/(?P<ecosystem_id>[^/]+)"
SCENARIO = r"scenarios/(?P<scenario_id>[^/]+)"

urlpatterns = [
    api_route(f"{ECOSYSTEM}/scenario", ScenarioCreateApi.as_view(), "scenario-create"),
    api_route(f"{ECOSYSTEM}/scenarios", ScenarioListApi.as_view(), "scenario-list"),
    api_route(SCENARIO, ScenarioDetailApi.as_view(), "scenario-detail"),
    api_route(f"{SCENARIO}/pause", ScenarioPauseApi.as_view(), "scenario-pause"),
    api_route(f"{SCENARIO}/resume", ScenarioResumeApi.as_view(), "scenario-resume"),
    api_route(f"{SCENARIO}/end", ScenarioEndApi.as_view(), "scenario-end"),
    api_route(f"{SCENARIO}/mode", ScenarioModeApi.as_view(), "scenario-mode"),
    api_route(f"{SCENARIO}/messages", ScenarioMessagesApi.as_view(), "scenario-messages"),
]
