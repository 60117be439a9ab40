"""The intent classifier of the NLU pipeline: Rasa's logistic regression with its
regularisation strength as a setting.

Rasa 3.6's `LogisticRegressionClassifier` fixes scikit-learn's default `C=1.0`. On this
assistant's data (about 2,200 short messages, 28 intents, sparse word and character
n-gram counts) that regularises so strongly that most confidences stay under the
fallback threshold; a weaker regularisation classifies the held-out messages as well
as DIET did, without TensorFlow: the model trains in about a minute, loads in a few
seconds and takes a fraction of DIET's memory (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier


def _import_skops_keeping_the_log_level() -> None:
    """Rasa's class loads the classifier with skops, whose import reaches numpy.distutils,
    which sets the root logger to WARNING (through setuptools' distutils log): every INFO
    line after the model's load, Rasa's « up and running » included, would be lost."""
    level = logging.getLogger().level
    import skops.io  # noqa: F401

    logging.getLogger().setLevel(level)


_import_skops_keeping_the_log_level()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RegularisedLogisticRegression(LogisticRegressionClassifier):
    """`LogisticRegressionClassifier` with `C` (inverse regularisation strength) and
    `class_weight` settable."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "C": 1.0,
            # Rasa's class uses "balanced"; null weighs every example the same.
            "class_weight": "balanced",
        }

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=self.config["C"], class_weight=self.config["class_weight"])
