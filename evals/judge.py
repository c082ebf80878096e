"""LLM-judged metrics (ragas faithfulness, answer relevancy, answer correctness), only with ``--judge MODEL``.

The judge is any litellm model (``openai/gpt-4o-mini``, ``openai/<name>`` with ``api_base`` for a vLLM or
Ollama server), wrapped for ragas through langchain-community's ``ChatLiteLLM``; answer relevancy and
correctness also need embeddings, which come from polydesk's own multilingual embedder. Faithfulness needs
the texts of the cited sources: in-process they are read from the knowledge index; over HTTP the reply names
its sources but does not carry their text, so faithfulness is not run there. Without a judge every one of
these columns reads "not run"; a case the judge failed on is ``None`` (left out of means), never a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from evals.aggregate import Record
from evals.metrics import run_sync

ContextReader = Callable[[Record], list[str]]


class _EmbedderForRagas:
    """polydesk's embedder behind ragas' (langchain-style) embeddings interface."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embedder.embed_queries([text])[0]]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.embedder.embed_passages(texts)]

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)


def judge_metrics(model: str, embedder: Any, *, api_base: str | None = None) -> dict[str, Any]:
    from langchain_community.chat_models import ChatLiteLLM
    from ragas.embeddings import LangchainEmbeddingsWrapper
    from ragas.llms import LangchainLLMWrapper
    from ragas.metrics import AnswerCorrectness, AnswerRelevancy, Faithfulness

    if model.startswith("polydesk-local/"):  # the in-process demo model, as the LLM generator accepts it
        from agent.generators.local import register_local_llm

        register_local_llm()
    llm = LangchainLLMWrapper(ChatLiteLLM(model=model, api_base=api_base, temperature=0.0))
    embeddings = LangchainEmbeddingsWrapper(_EmbedderForRagas(embedder))
    return {"faithfulness": Faithfulness(llm=llm),
            "answer_relevancy": AnswerRelevancy(llm=llm, embeddings=embeddings),
            "answer_correctness": AnswerCorrectness(llm=llm, embeddings=embeddings)}


def judge_records(records: Sequence[Record], metrics: dict[str, Any], *,
                  contexts: ContextReader | None = None) -> None:
    """Add the judged scores to each answered record (in place)."""
    from ragas.dataset_schema import SingleTurnSample

    for record in records:
        reply = record["reply"]
        if not reply or record["scores"]["outcome"] != "answer":
            continue
        case = record["case"]
        texts = contexts(record) if contexts else []
        sample = SingleTurnSample(user_input=case["message"], response=reply["text"],
                                  retrieved_contexts=texts or None, reference=case["reference"] or None)
        for name, metric in metrics.items():
            if (name == "faithfulness" and not texts) or (name == "answer_correctness" and not case["reference"]):
                continue
            try:
                record["scores"][name] = round(float(run_sync(metric.single_turn_ascore(sample))), 4)
            except Exception:  # a judge that fails on one case leaves that case unscored, never guessed
                record["scores"][name] = None


def index_contexts(index: Any, tenant: str) -> ContextReader:
    """The texts of a reply's cited chunks, read from the knowledge index (in-process runs)."""

    def read(record: Record) -> list[str]:
        texts = []
        for citation in record["reply"].get("citations", []):
            chunks = index.store.get_chunks(tenant, citation["document_id"])
            texts += [c.text for c in chunks if c.point_id == citation["chunk_id"]]
        return texts

    return read
