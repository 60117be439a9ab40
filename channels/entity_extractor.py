"""The entity extractor of the NLU pipeline: Rasa's CRF, kept trained in the model, its
pieces of one value joined.

Rasa 3.6's `CRFEntityExtractor` stores its training set in the model and trains the
CRFs again each time a Rasa process loads the model: several seconds of every cold
start and of every replica's restart. This one stores the trained CRFs in crfsuite's own
file format (read by the C library, no pickle) and loads them as they are.

The CRF sometimes tags each word of a value as a value of its own (« Le » and « Gall »
for the surname « Le Gall »): entities of one type that only spaces separate are one.
"""

from __future__ import annotations

import shutil
from collections import OrderedDict
from typing import Any

import pycrfsuite
import sklearn_crfsuite
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file

from channels.entities import join_pieces

ORDER_FILE = "crf_order.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class StoredCRFEntityExtractor(CRFEntityExtractor):
    """`CRFEntityExtractor` whose model keeps the trained CRFs, not their training set."""

    def extract_entities(self, message: Message) -> list[dict[str, Any]]:
        return join_pieces(message.get(TEXT) or "", super().extract_entities(message))

    def persist(self, dataset: list[list[CRFToken]]) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            dump_obj_as_json_to_file(model_dir / ORDER_FILE, self.crf_order)
            for tag_name, tagger in self.entity_taggers.items():
                shutil.copyfile(tagger.modelfile.name, model_dir / f"{tag_name}.crfsuite")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> StoredCRFEntityExtractor:
        try:
            with model_storage.read_from(resource) as model_dir:
                crf_order = read_json_file(model_dir / ORDER_FILE)
                # Read into memory: the model's folder is gone once Rasa has loaded it.
                taggers = OrderedDict(
                    (tag_name, _tagger((model_dir / f"{tag_name}.crfsuite").read_bytes()))
                    for tag_name in crf_order
                )
        except ValueError:  # no trained resource: nothing was annotated
            return cls(config, model_storage, resource)
        extractor = cls(config, model_storage, resource, taggers)
        extractor.crf_order = crf_order
        return extractor


def _tagger(model: bytes) -> sklearn_crfsuite.CRF:
    """A trained CRF, from the bytes of its crfsuite model file."""
    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(model)
    crf = sklearn_crfsuite.CRF()
    crf._tagger = tagger  # what `CRF.tagger_` would open from a file
    crf._model_bytes = model  # crfsuite reads the model where it lies: keep it alive
    return crf
