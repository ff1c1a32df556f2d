from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "caredesk.knowledge"
    label = "knowledge"

    def ready(self) -> None:
        from caredesk.knowledge.services import load_demo_knowledge
        from caredesk.operations.demo import EXTRA_LOADERS

        if load_demo_knowledge not in EXTRA_LOADERS:
            EXTRA_LOADERS.append(load_demo_knowledge)
