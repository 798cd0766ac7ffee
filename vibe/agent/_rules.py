"""The rules reader: any request to a :class:`~vibe.agent._intent.Reading`, deterministically.

It backs up the LLM (and is what the validator checks the LLM's fields against). In order:

1. typos in the words that decide the intent are corrected ("trian" -> "train", "evalute" -> "evaluate");
2. clauses that send anything out of the network are cut out and become refusals; a request to ignore the
   policy is cut out and noted; URLs are noted and never read as data;
3. the kind is decided (status questions, post-training, eval, release, continue, synth, estimate, tune,
   train, in that order; the release gates named with a release verb are what the release must pass; a refusal with nothing else left is ``refuse``; nothing readable is ``unclear``);
4. that kind's fields are read: sizes, paths, budgets, clock times, the cluster, runs, factors, counts.

The words that decide a kind are one lexicon per intent (``_TRAIN``, ``_ESTIMATE``, ``_TUNE``, ...) below;
every value (number, unit, size, duration, clock time, money, cluster, path, factor) is read by
:mod:`vibe.agent._text`, the one place the validation reads them too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any, Literal

from vibe.agent._intent import (
    ContinueIntent,
    EstimateIntent,
    EvalIntent,
    Intent,
    PostTrainIntent,
    Reading,
    Refusal,
    RefuseIntent,
    ReleaseIntent,
    StatusIntent,
    SynthIntent,
    TrainIntent,
    TuneIntent,
    UnclearIntent,
)
from vibe.agent._text import (
    SAMPLE_NOUNS,
    digits,
    experts_named,
    find_cluster,
    find_gpu_hours,
    find_hours,
    find_money,
    find_paths,
    find_samples,
    find_until,
    lr_factor,
    moe_named,
    more_steps,
    negated,
    output_paths,
    parse_size,
    steps_factor,
    system_dirs,
    urls_in,
    within,
    without_clusters,
    without_paths,
    without_urls,
)

__all__ = [
    "NO_GATES",
    "QUESTION",
    "TEMPLATE_NAMES",
    "find_run",
    "kind_evidence",
    "normalize",
    "read_rules",
    "templates_named",
    "tune_negated",
    "wants_tuning",
]

QUESTION = (
    "I could not tell what to do. Say for example: 'train a 125M on /data/code', 'how much would a 7B cost "
    "on 64 H100s?', 'tune the learning rate of a 20M on /data/code overnight', 'evaluate the last run', "
    "'continue the last run with half the learning rate' or 'how is the run doing?'"
)

# ------------------------------------------------------------------------------------------------ words
_VOCAB = [
    "train",
    "training",
    "pretrain",
    "finetune",
    "evaluate",
    "evaluation",
    "estimate",
    "continue",
    "resume",
    "synthetic",
    "generate",
    "status",
    "approval",
    "approvals",
    "release",
    "upload",
    "tuning",
    "search",
    "learning",
    "overnight",
    "experts",
    "mixture",
    "model",
    "dataset",
    "samples",
    "examples",
    "hyperparameters",
    "tomorrow",
    "yesterday",
    "branch",
    "docstring",
    "docstrings",
    "running",
    "waiting",
    "pending",
    "release",
    "gates",
    "budget",
    "would",
    "assess",
    "expensive",
    "parameters",
    "benchmark",
    "register",
    "registry",
    "checkpoint",
    "previous",
    "latest",
    "synthesize",
    "synthesise",
    "produce",
    "hyperparameter",
    "warmup",
    "minutes",
    "finish",
    "deadline",
    "finished",
]
_KEEP = set(
    ["python", "stdlib", "standard", "library", "files", "tokens", "cluster", "nodes", "gpus", "hours", "minutes", "steps", "rate", "about", "after", "before", "should", "their", "there", "these", "those", "which", "while", "where", "what", "when", "with", "without", "again", "other", "another", "first", "large", "small", "tiny", "little", "quick", "night", "around", "using", "times", "twice", "third", "quarter", "tenth", "weight", "decay", "width", "depth", "layers", "batch", "instruction", "instruct", "preferences", "pairs", "latest", "later", "letter", "scratch", "search", "should", "could", "model", "models", "modes", "runs", "tests", "testing"]
)  # fmt: skip
_WORD = re.compile(r"(?<![/\w.-])[A-Za-z]{5,}(?![/\w])")


def normalize(request: str) -> str:
    """Lower-case, with likely typos of the deciding words corrected and number words written as
    digits ('two hours'); paths and URLs are left alone."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0).lower()
        if word in _VOCAB or word in _KEEP:
            return word
        close = difflib.get_close_matches(word, _VOCAB, n=1, cutoff=0.82)
        # a typo keeps the word's first letter ('trian', 'evalute'); a word that starts otherwise is another
        # word ('passes' is not 'assess')
        return close[0] if close and close[0][0] == word[0] else word

    text = digits(_WORD.sub(fix, request))
    text = re.sub(r"\bfine[ -]?tun", "finetun", text, flags=re.I)
    return re.sub(r"\s+", " ", text.lower().replace("’", "'").replace("‘", "'"))


# ------------------------------------------------------------------------------------------- refusals
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_HUB = (
    r"hugging ?face|\bhf\b|\bthe hub\b|model hub|\bhub\b|s3|\bgcs\b|google cloud|azure|dropbox|google drive|"
    r"github|gitlab|wandb|weights (?:&|and) biases|bucket|external server|the internet|public|outside|cloud|"
    r"we ?transfer|\bs?ftp\b|pastebin|one ?drive|icloud|box\.com|mega\.nz|kaggle|discord|slack|telegram|whatsapp|notion"
)
_PARTY = (  # someone outside the organisation: named only when no service or address is
    r"\bvendors?\b|\bsuppliers?\b|third[- ]part(?:y|ies)|\bcontractors?\b|\bpartners?\b|\bexternal\b"
)
_SEND = (
    r"upload|push|send|e-?mail|mail|post|share|publish|export|copy|sync|put|ship|release|transfer|forward|"
    r"back ?up|mirror|deploy"
)
_EXFIL = re.compile(rf"\b(?:{_SEND})\w*\b{within('.;')}*?(?:{_HUB}|{_PARTY})", re.I)
_LOCAL_NAMES = (  # capitalised, yet no one outside: this machine's parts, the stages, file formats
    r"(?:Vibe|Ray|SQLite|Slurm|Production|Prod|Staging|Registry|The|Our|My|ONNX|GGUF|GGML|SafeTensors|"
    r"PyTorch|TorchScript|TensorRT|CSV|JSON|JSONL|Parquet|FP16|BF16|FP8|INT8|INT4)\b"
)
_TO_NAMED = (
    re.compile(  # a send to someone named ('to Scale AI', 'to Acme Corp', 'to OpenAI'): outside, unless local
        rf"\b(?i:{_SEND}|give|hand|sell)\w*\b{within('.;')}*?\bto\s+(?!{_LOCAL_NAMES})"
        r"([A-Z][\w.&'-]*(?:\s+(?:[A-Z][\w.&'-]*|&))*)"
    )
)
_OVERRIDE = re.compile(
    r"\b(?:ignore|bypass|override|skip|disable|forget|circumvent|disregard|turn off|switch off|get around|"
    r"never ?mind|don'?t (?:worry|care) about|pay no attention to)\s+(?:the\s+|our\s+|all\s+|any\s+|your\s+)?"
    r"(?:(?:data|security|sovereignty|company)\s+)?(?:polic(?:y|ies)|rules|approvals?|guardrails|restrictions|"
    r"checks)\b|\bwithout (?:any )?(?:policy|approval)(?: checks)?\b|\bpretend (?:there is|there's) no policy\b",
    re.I,
)
_CLAUSE = re.compile(
    r"\s*(?:,?\s+and then\s+|,?\s+then\s+|,?\s+and\s+|;\s*|,(?!\d)\s*|\.\s+|\s+also\s+|\s+afterwards\s+)",
    re.I,
)


def _side_notes(request: str) -> tuple[str, list[str], bool]:
    """(the request without its outward sends and policy overrides, the destinations, override asked)."""
    destinations: list[str] = []
    override = False
    kept = ""  # the clauses kept, each after the separator it was written with (', ', ' and ', '; ')
    pieces = re.split(f"({_CLAUSE.pattern})", request, flags=re.I)
    for at in range(0, len(pieces), 2):
        clause, before = pieces[at], pieces[at - 1] if at else ""
        if not clause.strip():
            continue
        urls = [u for u in urls_in(clause) if not re.match(r"https?://(127\.0\.0\.1|localhost)", u)]
        sends = re.search(rf"\b(?:{_SEND})\w*\b", clause, re.I)
        emails = _EMAIL.findall(clause)
        hub = _EXFIL.search(clause)
        to_named = _TO_NAMED.search(clause)
        if emails or hub or (sends and urls) or to_named:
            named = re.search(_HUB, clause, re.I) or re.search(_PARTY, clause, re.I) or to_named
            dest = emails or urls or [named.group(1) if named is to_named else named.group(0)]  # type: ignore[union-attr]
            destinations += dest
            continue
        if _OVERRIDE.search(clause):
            override = True
            clause = _OVERRIDE.sub(" ", clause)
        kept += (before if kept else "") + clause
    return kept, list(dict.fromkeys(destinations)), override


# ---------------------------------------------------------------------------------------------- kinds
_SENTENCE = within()  # one character of the same sentence ('1.5B' does not end one)
_TRAIN = re.compile(
    rf"\b(?:re-?train|pre-?train|train|finetun)\w*|\b(?:build|make|create|fit|grow)\b(?={_SENTENCE}*\b(?:model|gpt|llm|"
    r"\d+(?:[.,]\d+)?\s*(?:[mb]|bn|mio|mrd|million|billion)\b))",
    re.I,
)
_OBJECTIVE = r"(?:for\s+|the\s+|on\s+)?(?:val\b|validation|held-out|eval\b|loss|bpb|perplexity)"
_TUNE_WORD = (  # 'optimizing val loss' names the objective, not a search
    rf"(?:tun(?:e|ed|es|ing)\b|hyper-?param\w*|search\w*|sweep\w*|hpo\b|optimi[sz]\w*(?!\s+{_OBJECTIVE}))"
)
_TUNE_LOOSE = (  # what asks for a search without naming one: not when the request says not to tune
    r"\bfind (?:the |a )?(?:best|good|optimal|right)\b|\bbest (?:settings|lr|learning rate|hyper|config)"
    r"|\b(?:lowest|minimi[sz]e|minimum)\s+(?:the\s+)?(?:validation|val|held-out|eval)|\boptimi[sz]\w*"
    r"|\b(?:which|what)\s+(?:lr|learning rate|batch size|warm-?up|weight decay|hyper-?parameters?|settings?)\b"
    r"|\btry\s+(?:a few|several|some|different|multiple|\d+)\s+(?:\w+\s+)?(?:learning rates|lrs|values|settings|"
    r"configs?|configurations)\b|\b(?:pick|choose|keep) the best\b|\bbest of \d+\b"
)
_TUNE = re.compile(rf"(?<!finetun)(?<!fine-)(?<!fine )\b{_TUNE_WORD}|{_TUNE_LOOSE}", re.I)
_NEGATED_TUNE = re.compile(negated(rf"(?:the\s+|a\s+|any\s+)?(?:hyper-?parameter\s+)?{_TUNE_WORD}"), re.I)
_ESTIMATE = re.compile(
    r"how much|how long|\bcost\w*|\bestimat\w*|what would it take|\bprice\w*|\bpricing\b|how many (?:gpu|days|"
    r"hours|weeks|months|nodes)|\bafford|\bfeasib\w*|\bbudget for\b|\bwould it take\b|\bexpensive\b|\bballpark\b"
    rf"|\bquote\b|\bwhat would (?:a|an|it)\b{_SENTENCE}*\b(?:take|need|run|be)\b|\bhow fast\b|\bthe bill\b"
    r"|\bhow (?:big|large)\b|\bhow many (?:parameters|params)\b"
    rf"|\b(?:enough|sufficient)\b{within('.!')}*\?|\bif (?:we|i) (?:only )?(?:have|had|get|got)\b|\bis it (?:possible|doable)\b"
    r"|\bcan (?:we|i) (?:afford|fit|manage)\b|\bcheap(?:er|est)\b|\bless expensive\b"
    r"|\bwie ?viel\b|\bkoste[nt]\b|\bcombien\b|\bco[uû]te\b|\bcu[aá]nto\b|\bcuesta\b"  # other languages' 'how much'
    rf"|\b(?:doable|realistic|achievable|possible|feasible)\b(?={_SENTENCE}*\?)"
    rf"|\b(?:would|will|does|do|can|could)\b{_SENTENCE}*\bfit\b{_SENTENCE}*\?",
    re.I,
)
_ASKING = (  # what may come before the question itself: fillers, a label, a polite wrapper
    r"(?:ok(?:ay)?|so|hey|hi|um+|well|and|right|quick question|btw|please|pls)\b[,:]?\s*"
    r"|[a-z][\w' -]{0,28}:\s+|(?:hey|hi|hello|morning|yo)\s+\w+[,:!]\s*"  # 'ops question: ', 'hey team, '
    r"|(?:could|can|would|will) you (?:please |pls |quickly |just )?(?:check|tell me|let me know|show me|see|"
    r"look(?: at)?|have a look(?: at)?|take a look(?: at)?|find out|report)(?: on)?\s+"
    r"|(?:i'?d like|i want|i need|i'?d love|wanted) to (?:know|see|check)\s+|i(?: was)? wonder(?:ing)?\s+"
    r"|do you know\s+|any idea\s+"
)
_STATUS_Q = re.compile(
    rf"^\s*(?:{_ASKING})*(?:how(?:'s|s| is| are| r| did| far| goes| does| the| my| our| it| things| many| much)|what(?:'s|s| is| are| did| has| have| happened| runs| came| come)|who(?:'s| is| approved| started| ran)|when (?:will|does|did|is|was)|is |"
    r"are |did |has |have |any |anything|show|list|status|where|which|tell me|give me|(?:whether|if)\b(?!\s+(?:you|u)\s+(?:could|can|would|will|might)\b))",
    re.I,
)
_STATUS_W = re.compile(
    r"\b(?:doing|going|progress|status|waiting|pending|approv\w*|find|found|running|finished|done|loss|runs?|"
    r"loop|queue|happened|stuck|far along|converg\w*|results?|still|left|remaining|finish\w*|fail\w*|crash\w*|"
    r"errors?|broke\w*|wrong|came out|come of|turned up|outcome|yet|busy|occupied|free|idle|available|right now|at the moment|eta|looking|look like|shaping up|coming along|"
    r"healthy|alive|stalled|hung|diverg\w*|nans?|"
    r"currently|using (?:the |our |all )?(?:gpus?|cluster|nodes|machines))\b|\bat\s*\??\s*$",
    re.I,
)
_PAST_RUN = re.compile(  # a question about what a run did ('how many GPU hours did the last run use?'): status
    rf"\b(?:did|has|had|was)\b{_SENTENCE}*\b(?:run|training|loop|search|job|t-[0-9a-z]{{3,}})\b(?!{_SENTENCE}*\bif\b)",
    re.I,
)
_POST = re.compile(
    r"\b(?:sft|dpo|rlhf|rlaif|grpo|ppo|orpo|kto|post-?train\w*|instruction[- ]?tun\w*|instruct-?tun\w*|"
    r"align\w*|preference (?:tuning|optimi[sz]ation|data|pairs)|reinforcement learning|chat[- ]?tun\w*|"
    r"supervised finetun\w*|rl|rlvr|rl[- ]?tun\w*|reward[- ]model\w*|human feedback|verifiable rewards?)\b"
    r"|\b(?:turn|make)\b(?:\s+\S+){0,4}?\s+into an? (?:chat|assistant|instruct)"
    r"|\b(?:make|build|create|get)\s+an?\s+(?:chat|assistant|instruct\w*)(?:\s+(?:model|version|bot))?\s+(?:out\s+)?of\b",
    re.I,
)
_RELEASE = re.compile(
    r"(?<!ready for )(?<!ready to )(?<!enough to )\b(?:release|publish|promote|register|ship)\w*\b"
    r"(?!\s+gates?)(?!\s+criteria)(?!\s+bar)"
    r"|\b(?:in|into|to)\s+(?:the\s+)?(?:model\s+)?(?:registry|production|prod)\b|\bgo(?:es)? live\b",
    re.I,
)
_EVAL_ASKED = re.compile(  # an evaluation asked for in so many words
    r"\b(?:evaluat\w*|eval|evals|benchmark\w*|score|assess\w*|measure|test (?:the|run|it|model|checkpoint))\b"
    r"|\b(?:loss|bpb|perplexity|accuracy)\s+(?:of|for)\s+(?:the\s+|my\s+|that\s+)?(?:t-|run|last|latest|previous|"
    r"yesterday|checkpoint|model)[^.?!]*\bon\s+/"  # a run's metric on data: an evaluation
    r"|\bhow good is\b|\bhow well does\b|\b(?:check|verify|run)\s+(?:it\s+)?(?:against\s+)?(?:the\s+|our\s+)?"
    r"(?:release\s+)?(?:gates?|criteria)\b",
    re.I,
)
_GATES = re.compile(  # the release gates named: an eval, unless they are what a release is to pass
    r"\b(?:pass(?:es)?|meets?|clears?|satisf(?:y|ies)) (?:our |the |all )?(?:release )?(?:gates?|bar|criteria)"
    r"|\bgates?\b|\brelease (?:criteria|bar)\b|\bready (?:for|to) (?:release|ship)",
    re.I,
)
_CONTINUE = re.compile(
    r"\b(?:continue|continuing|resume|resuming|pick up|keep (?:training|going)|carry on|go on with|keep on with|"
    r"proceed with|extend|branch|fork|"
    r"restart from|start again from|train (?:it |that |the (?:last|previous) run )?(?:for )?(?:longer|further)|"
    r"more steps|where (?:it|we|you) left off)\b",
    re.I,
)
_SAMPLES = SAMPLE_NOUNS
_SYNTH = re.compile(r"\b(?:synthetic|synthesi[sz]\w*|synth|augment\w*|generate|fabricate)\b", re.I)
_KIND_NOUNS = (  # the nouns of the synth templates (not the verb 'explain')
    r"(?:docstrings?|explanations|unit tests|tests|test cases|api questions|q&a|qa|question[- ]answer|"
    r"summar(?:y|ies))"
)
_MAKE_SAMPLES = re.compile(  # 'make 500 unit tests', 'create 250 code explanations', 'produce 1.5k doc QA'
    r"\b(?:make|create|produce|write|build|draft|give me|get me)\s+(?:me\s+)?(?:about\s+|around\s+|~\s*)?"
    rf"\d+(?:[.,]\d+)*\s*k?\s+(?:[\w&-]+\s+){{0,3}}?(?:{_KIND_NOUNS}|samples|examples)\b",
    re.I,
)
_KIND_ALONE = re.compile(  # a kind of sample as the request's object: first in it or in a clause, or counted
    rf"(?:^|[,;:]|\b(?:make|create|produce|write|build|draft|give me|get me)\b)\s*(?:\d+(?:[.,]\d+)*\s*k?\s+)?"
    rf"(?:(?:code|doc|document|api|python|short|more|some)\s+)?{_KIND_NOUNS}\b"
    rf"|(?<![\d.,])\d+(?:[.,]\d+)*\s*k?\s+(?:[\w&-]+\s+){{0,2}}?{_KIND_NOUNS}\b",
    re.I,
)
_RUN_TESTS = re.compile(rf"\b(?:run|execute|pass|fix|check)\w*\b[^,;.]*{_KIND_NOUNS}", re.I)


def _synth_asked(text: str, paths: list[str]) -> bool:
    """Synthetic samples asked for: a synth verb with samples or a kind, a count of a kind made, or a request
    that is a kind of sample with a count or a path ('summaries of /data/reports, 300 of them')."""
    if _SYNTH.search(text) and (
        re.search(_SAMPLES, text) or any(re.search(t, text) for t in _TEMPLATES.values())
    ):
        return True
    if _MAKE_SAMPLES.search(text):
        return True
    return bool(
        _KIND_ALONE.search(text)
        and (paths or find_samples(text))
        and not _TRAIN.search(text)
        and not _RUN_TESTS.search(text)  # 'run the 40 unit tests on /srv/app' makes none
    )


def _continue_asked(text: str) -> bool:
    """A continue: its words ('resume', 'keep going'), or an earlier run named with a change to it (a
    learning-rate factor, more steps, a multiple of them, more data), read by the same helpers as its fields."""
    if _CONTINUE.search(text):
        return True
    changed = (lr_factor(text) is not None or more_steps(text) is not None or steps_factor(text) is not None
               or re.search(r"\bmore data\b|\b(?:half|halve|double)", text))  # fmt: skip
    return bool((_RUN_REF.search(text) or _RUN_ID.search(text)) and changed)


def tune_negated(text: str) -> bool:
    return bool(_NEGATED_TUNE.search(text))


def wants_tuning(text: str) -> bool:
    """Whether ``text`` (normalized) asks for a search, negations ("don't tune", "no search") removed; once
    the request says not to tune, only a search named as such ('but sweep the batch size') still asks."""
    return _tune_at(text) is not None


def _tune_at(text: str) -> re.Match[str] | None:
    rest = _NEGATED_TUNE.sub(" ", text)
    if rest == text:
        return _TUNE.search(text)
    return re.search(rf"(?<!finetun)(?<!fine-)(?<!fine )\b{_TUNE_WORD}", re.sub(_TUNE_LOOSE, " ", rest))


_OTHER_ACTION = (
    re.compile(  # actions no intent does (stop, cancel, delete ...): a question back, never a plan
        r"^\s*(?:please\s+|pls\s+)?(?:cancel|abort|kill|delete|remove|pause|stop|terminate|halt|undo)\b"
        r"(?!\s+(?:at|by|after|before|when|once|if|around)\b)",
        re.I,
    )
)


def _kind(text: str, paths: list[str]) -> str:
    text = without_paths(text)  # the words of a path decide nothing ('/data/rl-logs', '/data/train-split')
    if _OTHER_ACTION.search(text):
        return "unclear"
    if (_STATUS_Q.search(text) and _STATUS_W.search(text) and (not _ESTIMATE.search(text) or _PAST_RUN.search(text))
            and not _GATES.search(text) and not _EVAL_ASKED.search(text)):  # fmt: skip
        return "status"
    if _POST.search(text):
        return "post_train"
    evaluate = _EVAL_ASKED.search(text) or (_GATES.search(text) and not _RELEASE.search(text))
    if evaluate and not _TRAIN.search(text.split("eval")[0] if "eval" in text else ""):
        return "eval"  # 'evaluate t-1 against the gates'; 'ship t-1 if it passes the gates' is a release
    if _RELEASE.search(text):
        return "release"
    if _continue_asked(text):
        return "continue"
    if _synth_asked(text, paths):
        return "synth"
    if _ESTIMATE.search(text):
        return "estimate"
    if wants_tuning(text):
        tune_at = _tune_at(text)
        train_at = _TRAIN.search(text)
        if train_at is None or (tune_at is not None and tune_at.start() < train_at.start()):
            return "tune"
        return "train"
    if _TRAIN.search(text) or parse_size(text) is not None or (paths and re.search(r"\bmodel|gpt|llm", text)):
        return "train"
    if re.search(r"\b(?:model|gpt|llm)\b", text) and re.search(r"\bon\b", text):
        return "train"
    return "unclear"


# --------------------------------------------------------------------------------------------- fields
_OVERNIGHT = re.compile(  # a night's work: the night named, or the morning or waking up as the end
    r"\bover ?night\b|\btonight\b|\bnight'?s work\b|\ball night\b|\bnight shift\b"
    r"|\b(?:through|during|over|across|for|in) the night\b|\bthrough the small hours\b"
    r"|\b(?:by|until|till|til|before|for) (?:the |tomorrow )?morning\b"
    r"|\b(?:while|when|before|until|till) (?:i|we)(?:'re|'m| am| are)? (?:(?:a|are )?sleep\w*|asleep|wake up|"
    r"get up|(?:am |are )?(?:away|gone|off|out) (?:for the night|tonight)|(?:am |are )?in bed)\b",
    re.I,
)
_RUN_ID = re.compile(r"\b(t-[0-9a-z]{3,}|run[-_][\w-]+|loop-[\w-]+)\b", re.I)
_RUN_REF = re.compile(
    r"\b(?:the )?(?:last|latest|most recent|previous|yesterday'?s?|last night'?s?|that|my)\s+(?:\w+\s+)?"
    r"(?:run|model|training|checkpoint|loop|search|thread)\b|\brun\s+[\w-]*\d[\w-]*",
    re.I,
)
_BASE = re.compile(
    r"\b(?:finetun\w*|starting from|start from|init(?:iali[sz]ed?)? from|based on|on top of|from (?:the )?"
    r"(?:base )?(?:model )?)\s+([a-z][\w.-]*\d[\w.-]*|smollm\w*|llama\w*|qwen\w*|mistral\w*|gemma\w*|"
    r"gpt-?2\w*|phi-?\w*)"
    # or a model's directory, after the words that name a base (not a bare 'from': 'train from /data/x')
    r"|\b(?:(?:finetun\w*|start(?:ing)? from|init(?:iali[sz]ed?)? from|based on|on top of)\s+(?:the\s+|a\s+)?"
    r"(?:(?:base\s+)?(?:model|checkpoint|weights)\s+)?|from\s+(?:the\s+|a\s+)?(?:base\s+)?"
    r"(?:model|checkpoint|weights)\s+)(?:(?:at|in)\s+)?(~?/[^\s,;'\"()]+)",
    re.I,
)
TEMPLATE_NAMES = (
    "code.explain",
    "code.docstring",
    "code.tests",
    "code.api_questions",
    "doc.qa",
    "doc.summary",
)
_PARAMS = {
    "lr": r"learning[- ]rates?|\blr\b",
    "warmup": r"warm-?up",
    "batch": r"batch(?:[- ]size)?",
    "weight_decay": r"weight[- ]decay|\bwd\b",
    "width": r"\bwidth\b|hidden size",
    "depth": r"\bdepth\b|\blayers\b",
}
_TEMPLATES = {
    "code.docstring": r"docstrings?",
    "code.explain": r"explanations?|explain",
    "code.tests": r"\btests?\b|unit tests?",
    "code.api_questions": r"api questions?",
    "doc.qa": r"\bq&a\b|\bqa\b|question[- ]answer|questions? and answers?",
    "doc.summary": r"summar\w+",
}


NO_GATES = negated(r"(?:release\s+|policy\s+)?(?:gates?|gating|release criteria)\b")


def find_run(text: str, paths: Sequence[str] = ()) -> str | None:
    """Which earlier run a request means: an id, a path under a run, 'last' or 'yesterday'. An id that is a
    part of one of ``paths`` (the request's own paths) is the run's directory: that path is the run; so is a
    directory in a ``runs`` folder."""
    ident = _RUN_ID.search(text)
    if ident:
        for path in paths:
            parts = path.lower().split("/")
            if ident.group(1).lower() in parts:
                return "/".join(path.split("/")[: parts.index(ident.group(1).lower()) + 1])
        return ident.group(1)
    for path in paths:  # a directory under a runs folder: '/work/runs/moe-big', '/srv/runs/x/checkpoints/5'
        parts = path.split("/")
        if "runs" in parts[1:-1]:
            return "/".join(parts[: parts.index("runs", 1) + 2])
    if re.search(r"\byesterday", text):
        return "yesterday"
    if re.search(r"\blast night", text):
        return "last"
    if re.search(
        r"\b(?:last|latest|most recent|previous|that|my|the)\s+(?:\w+\s+)?(?:run|model|training|checkpoint)\b",
        text,
    ):
        return "last"
    named = re.search(r"\brun\s+([\w-]*\d[\w-]*)", text)
    return named.group(1) if named else None


def _beside(paths: list[str], *used: str | None) -> list[str]:
    """``paths`` but those that are (or are under) one of ``used`` (the run, the base model): more data."""
    return [p for p in paths if not any(u and (p == u or p.startswith(u.rstrip("/") + "/")) for u in used)]


def _budgets(text: str, paths: list[str]) -> dict[str, Any]:
    moe = moe_named(text)
    return {
        "parameters": parse_size(without_clusters(text)),
        "architecture": "moe" if moe else "dense",
        "num_experts": (experts_named(text) or 8) if moe else None,
        "data": paths,
        "gpu_hours": find_gpu_hours(text),
        "money": find_money(text),
        "hours": find_hours(text),
        "until": find_until(text),
        "cluster": find_cluster(text),
    }


def _objective(text: str) -> Literal["val_bpb", "val_loss"]:
    return "val_loss" if re.search(r"\b(?:validation|val|held-out)[ _]loss\b", text) else "val_bpb"


def _intent(kind: str, text: str, paths: list[str], request: str) -> Intent:
    if kind == "status":
        topic = (
            "approvals"
            if re.search(r"approv|waiting|pending|sign", text)
            else "loop"
            if re.search(r"\bloop|last night|overnight|tonight|\bsearch|\bhpo\b|\bsweep", text)
            else "run"
            if find_run(text, paths)
            or re.search(r"\bthe (?:run|training|job)\b|\bit\b|\b(?:is|has) training\b", text)
            else "runs"
        )
        return StatusIntent(topic=topic, run=find_run(text, paths) if topic == "run" else None)
    if kind == "post_train":
        method = "dpo" if re.search(r"dpo|orpo|preference", text) else "rl" if re.search(
            r"\brl|ppo|grpo|reinforcement|reward|human feedback", text) else "sft"  # fmt: skip
        run = find_run(text, paths)
        return PostTrainIntent(method=method, run=run, data=_beside(paths, run))
    if kind == "eval":
        run = find_run(text, paths)
        run_paths = [p for p in paths if "/runs/" in p or p.startswith(("runs/", "./runs"))]
        if run is None and run_paths:
            run = run_paths[0]
        if run is None and paths:
            run, run_paths = paths[0], paths[:1]
        gates = bool(
            re.search(r"\bgates?\b|release (?:criteria|bar)|ready (?:for|to) (?:release|ship)", text)
        )
        if re.search(NO_GATES, text):
            gates = False
        data = [p for p in _beside(paths, run) if p not in run_paths]
        return EvalIntent(run=run or "last", data=data, gates=gates)
    if kind == "release":
        return ReleaseIntent(run=find_run(text, paths) or "last")
    if kind == "continue":
        return _continue(text, paths)
    if kind == "synth":
        return _synth(text, paths)
    if kind == "unclear":
        return UnclearIntent(question=QUESTION)
    budgets = _budgets(text, paths)
    if kind == "estimate":
        return EstimateIntent(**budgets)
    if kind == "tune":
        kept = re.sub(negated("|".join(_PARAMS.values())), " ", text)  # "don't bother with lr": not searched
        params = [name for name, pattern in _PARAMS.items() if re.search(pattern, kept)]
        overnight = bool(_OVERNIGHT.search(text)) or (
            budgets["until"] is not None and int(budgets["until"][:2]) < 10
        )
        return TuneIntent(**budgets, params=params, overnight=overnight, objective=_objective(text))  # type: ignore[arg-type]
    base = _BASE.search(text)
    base_model = (base.group(1) or base.group(2)) if base else None
    base_model = None if base_model and base_model.startswith("scratch") else base_model
    if base_model and base_model.startswith("/"):  # a model directory: the path as the request wrote it
        base_model = next((p for p in paths if p.lower() == base_model.rstrip(".:!?/")), None)
        budgets["data"] = _beside(paths, base_model)
    elif base_model and (original := re.search(re.escape(base_model), request, re.I)):
        base_model = original.group(0)
    if base_model and parse_size(base_model) == budgets["parameters"]:
        budgets["parameters"] = None  # "fine-tune SmolLM2-135M": the size is the base model's
    return TrainIntent(
        **budgets, base_model=base_model, search=wants_tuning(text), objective=_objective(text)
    )


def _continue(text: str, paths: list[str]) -> ContinueIntent:
    branch = bool(re.search(r"\bbranch|\bfork|as a new run|new run|separate run|\bcopy\b|side by side", text))
    run = find_run(text, paths) or "last"
    return ContinueIntent(run=run, lr_factor=lr_factor(text), more_steps=more_steps(text),
                          steps_factor=steps_factor(text), data=_beside(paths, run), branch=branch)  # fmt: skip


_SHARE_WORDS = {"half": 0.5, "third": 1 / 3, "quarter": 0.25, "fifth": 0.2, "tenth": 0.1}
_SHARE_WORD = re.compile(  # 'as a fifth of the data', 'a tenth of the mix'
    r"\b(?:a|one)[ -](third|quarter|fifth|tenth)\s+of\s+(?:the\s+)?(?:\w+\s+)?(?:mix|data|corpus|blend|tokens|"
    r"training)\b|\bhalf\s+(?:of\s+)?the\s+(?:mix|blend)\b"
)
_NO_BLEND = re.compile(
    negated(r"(?:blend|mix)\w*") + r"|\b(?:keep|leave) (?:them|it|those) (?:separate|apart|out of the mix)"
    r"|\bseparately\b|\bon their own\b"
)


def templates_named(text: str) -> list[str]:
    """The synth templates ``text`` (normalized) names, by the kinds of sample they make."""
    return [name for name, pattern in _TEMPLATES.items() if re.search(pattern, text)]


def _share(text: str) -> float | None:
    """The samples' share of the mix: '30 percent', 'a tenth of the mix', or a fraction in the clause that
    blends ('blend a tenth into the mix', 'mix in a quarter')."""
    share = re.search(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b|pct\b)", text)
    if share and 0 < float(share.group(1)) < 100:
        return float(share.group(1)) / 100
    if fraction := _SHARE_WORD.search(text):
        return _SHARE_WORDS[fraction.group(1) or "half"]
    for clause in re.split(r"[,;]|\.\s", text):
        if re.search(r"\b(?:blend|mix|share|portion)", clause) and (
            fraction := re.search(r"\b(?:a|one)[ -](half|third|quarter|fifth|tenth)\b|\b(half)\b", clause)
        ):
            return _SHARE_WORDS[fraction.group(1) or fraction.group(2)]
    return None


def _synth(text: str, paths: list[str]) -> SynthIntent:
    templates = templates_named(text)
    share_value = _share(text)
    blend = bool(re.search(r"\bblend|\bmix\b|training mix|add (?:them|it|those) to|into the training", text))
    blend = (blend or share_value is not None) and not _NO_BLEND.search(text)
    return SynthIntent(
        samples=find_samples(text, kinds=len(templates)),
        templates=templates,
        data=paths,
        blend=blend,
        share=share_value if blend else None,
    )


def kind_evidence(kind: str, text: str, request: str) -> bool:
    """Whether ``text`` (the normalized ``request``) has words that ask for an intent of ``kind``."""
    paths, _ = find_paths(request)
    text = without_paths(text)
    checks = {
        "train": lambda: bool(_TRAIN.search(text)) or parse_size(text) is not None or bool(paths),
        "estimate": lambda: bool(_ESTIMATE.search(text)),
        "tune": lambda: wants_tuning(text),
        "synth": lambda: bool(_SYNTH.search(text)) or _synth_asked(text, paths),
        "eval": lambda: bool(_EVAL_ASKED.search(text) or _GATES.search(text)),
        "continue": lambda: bool(_continue_asked(text) or _RUN_REF.search(text)),
        "status": lambda: bool(_STATUS_Q.search(text)),
        "post_train": lambda: bool(_POST.search(text)),
        "release": lambda: bool(_RELEASE.search(text)),
        "refuse": lambda: bool(_side_notes(request)[1]),
        "unclear": lambda: True,
    }
    return checks[kind]()


def read_rules(request: str) -> Reading:
    """The rules' :class:`Reading` of ``request`` (never raises: an unreadable request is ``unclear``)."""
    rest, destinations, override = _side_notes(request)
    paths, _ = find_paths(rest)
    outputs = output_paths(rest)  # 'save it to /models/out': where to write, not data
    paths = [p for p in paths if p not in outputs]
    urls = urls_in(request)  # every URL named is noted, those of a refused send too
    text = normalize(without_urls(rest))
    kind = _kind(text, paths)
    if kind == "unclear" and destinations:
        intent: Intent = RefuseIntent(destinations=destinations)
    else:
        intent = _intent(kind, text, paths, rest)
    refused = [Refusal(destination=d) for d in destinations]
    data = getattr(intent, "data", [])
    return Reading(
        request=request,
        intent=intent,
        refused=refused,
        policy_override=override,
        confirm_dirs=system_dirs(data),
        urls=urls,
        reader="rules",
    )
