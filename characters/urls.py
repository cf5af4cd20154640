from rest_framework.routers import SimpleRouter

from .apis import CharacterViewSet, EcosystemViewSet

router = SimpleRouter()
router.trailing_slash = "/?"  # optional trailing slash (docs/api.md: REST)
router.register("ecosystems", EcosystemViewSet, basename="ecosystem")
router.register("characters", CharacterViewSet, basename="character")

urlpatterns = router.urls
