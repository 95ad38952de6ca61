"""Classroom language: "thinking/learning" words, subject terminology, and mirroring between teacher and pupils.

Figure 9: "Listen to the language being used in the lesson. How is subject terminology or 'thinking' or 'learning'
language used?  To what extent do the teacher and pupils mirror each other in the use of language?"

- **Thinking/learning language** is counted by role against ``THINKING_WORDS``, a small documented lexicon (explain,
  because, why, predict, evidence, reason, compare, hypothesis, think, justify, prove, ... with their inflections).
- **Subject terminology** candidates are the content words the teacher uses that are not everyday English: not in
  ``COMMON_WORDS`` (the 2,500 most frequent lower-case whole-word tokens, three letters or more, of the GPT-2
  byte-pair vocabulary that ships with openai-whisper as ``whisper/assets/gpt2.tiktoken``, MIT licence -- its merge
  order follows web-text frequency -- plus everyday classroom talk: "okay", "gonna", number words, ...; regular
  endings are removed before the look-up, so "lowers" is as common as "lower"), at least
  ``min_term_len`` letters, and not a proper name (a word the ASR always capitalises mid-sentence).
  A term needs ``min_teacher_uses`` uses by the teacher, or one use by each side, to be listed.
- **Mirroring**: a candidate term the teacher used first and a pupil used later, with both first times.
  Inflections are matched by a crude stem (the first six letters of words of seven or more; a final "s" dropped
  otherwise): "evaporation" / "evaporates", "hypothesis" / "hypotheses".

Words are attributed per sentence (``sentences.split_sentences``); words without a role are not counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from videocoach.core.model import RoleTurn, Utterance
from videocoach.measures.sentences import split_sentences

THINKING_WORDS: frozenset[str] = frozenset(
    """
    explain explains explained explaining explanation explanations because why reason reasons reasoning reasoned
    predict predicts predicted predicting prediction predictions evidence compare compares compared comparing
    comparison hypothesis hypotheses hypothesise hypothesize think thinks thinking thought justify justifies justified
    justification prove proves proved proof conclude concluded conclusion conclusions infer inferred inference notice
    noticed noticing wonder wondered wondering therefore suppose estimate estimated estimation pattern patterns agree
    agreed disagree disagreed argue argued argument arguments test tested testing observe observed observation
    observations describe described strategy strategies imagine assume assumption convince convinced example examples
    understand understood learn learned learning learnt mistake mistakes check checked investigate investigation
    analyse analyze analysis evaluate conclude cause causes effect effects consequence relationship connect
    connection method""".split()
)

COMMON_WORDS: frozenset[str] = frozenset(
    """
    the and that for you with con was pro are com not from have this can his has but wor all will whe they int out who
    their more one said your cont which about were had comp would off res man per other been like dis any app them her
    there year some when than over also part bec time what new get just into people pre its rec work she our him only
    spe acc how after att play could first act comm bet two back under may des most did add inc pol again know need cons
    want see even ind these use because now make then every sec inv supp look where years diff should rem rel def right
    through way don ass reg very includ imp sub being does down many call dec before well much those such end long think
    bel own prov set show pres say eff inst ent good start made hel mon last stud min col mod count fin str point sur
    used same differe while game sim inter report produ still here world though num ret ref trans take conf going spec
    hand between ear against high exp ins help requ found person great sign somet ser run ter follow det find mem ext
    team system lead around govern cur cour car law read real support really fact day both serv three wom med exper each
    che cre rep grou met says during fam happ char gener cor offic too inf public prog war power few loc different state
    head poss stat val iss cle expl another child since life develop dep pass turn resp second disc something comple fil
    month government without leg dist put quest prot never level art things might effect contro cent allow belie incre
    feel result lot fun contin using big ask best opp number must direct open post come seem week far tra pri place form
    told stand next soc pur let little hum commun mark information bus invest hard import appro test tri rest full care
    case less partic list top adv dem home left better data attack proble beh bro build main including got interest keep
    eas class var small ide rece polit mov plan percent camp pay unt didn pos process program name four return called
    move group bre men cap dri pat current pop always mil women old near free design change chang vis book kill away
    able country const order million oper thing why school aff days ann prof health sol already charact friend least
    prom hist est tell talk until later view word cost enough give techn par large win important doesn business clear
    rese equ expect occ kind mean past dev bas organ del perform story season claim came within line project control air
    money family making bit police happen vers sit sure appear light water times grow company mar example conc fore
    actually ever tax major often human job available record sing news econom following hour sex desc become took having
    product means hop cho certain non deal side reason elect official possible hold city sever children once activ night
    done lim working body whether author proper seen fac cond course event eng pot intern short orig dam press doing
    protect thought question several given fund went arg polic meet creat games understand makes won htt love complete
    account ident others prob young along according yet members among employ invol low hig likely ant ben rele president
    access known early fight sent today market based strong deb problem death social campaign mus saf months viol five
    stre players success present sugg particular try suggest priv crit land local aut mult political asked former close
    pract getting across comb believe toget together individual face value area writ vot key mom anything experience
    mind future cut tot video investig net impro connect redu above fre amount either milit anal fail special black
    looking fire almost study miss tre community media food comes single half started quick issue else consider taken
    true trad ago mess added bad fav similar character reported type targ entire history live trying discuss self room
    fall isn idea sound someone foc object player rather service mor nothing provide party exist mag rul house behind
    however sum applic function front series tem typ opt points below specific previous pret custom court repl whole
    treat probably learn version check benef doc deter enc super address vict meas field signific feat common begin
    bring action describ indust wanted attempt due shall six step pub himself cop dest stop lab hours create further dou
    national taking red research break space recent general hit period everything phys saying cou cult coun include
    position imm pick compl matter compet cannot init relations bar vol ground security upd concern white seems announ
    fig stri sus watch wind itself mass abs pack outside anim pain manag foot third mot evidence threat decl item
    represent significant cal simply longer file ener dom upon themselves coming quite difficult woman necess text
    require military review respons subject instead issues gen minutes weap code higher page students method policy exec
    accept words final changes friends respect compan damage neg total needs agre development age results gun rights
    running wasn port rate pretty target saw circ works everyone pie rad block walk shows site risk inj chall began size
    decision larg jud continue parent easy drug sense energy associ girl request soon host states material moment answ
    especially norm services role cred mat log office charg track heart ball personal building increase needed lost
    became groups wrote prop dead http webs inside wrong statement film music share release forward stay comput original
    card cand div favor cases section leave required countries questions prim cell shoot anyone affect online ability
    content reve laun indic force sold soft companies article aud rev educ playing held released federal administ
    interview install received source serious created cause immedi defin late speak legal weeks model pred exact takes
    regard opportun price ord problems leaders deep pers contract relationship base consum potential langu relig link
    lower fem contact ill mother estab squ provided average exam perfect tou buy shot collect phot played surpr
    officials simple industry hands pull round user range private ways veh except terms den performance bill environment
    exc worth pict chance speed alleg match stru ste living struct separ response enjoy via member tool offer turned
    recently blood hope comment arri particip gave select killed goes coll impact boy felt expected image prevent
    involved eyes quickly behav led candid earlier focus popular sett various levels road heard mis users improve father
    search profess knew loss events billion cover bott areas gets vote nearly included recogn happened hot whose civil
    suff respond hon features economic technology option purch lat recomm training effects fast occur website email sens
    oil influ currently goal scient conv decided travel mention election phone looks situation hor quality table staff
    tried addition box lack wide mid board anti dig dro slow path worked pen engine looked victim property introdu
    execut color network date extra sle wond reports capital ens command allowed prep capt numbers fair reach broad
    couple screen lives prior approach emer built repe rules financial considered brought products visit document
    conduct completely written draw published secret sexual thous ess standard arm fell foreign regular increased
    usually demon dark additional production international race mach huge town attention terror meeting arrest fear
    extreme workers directly population cross message nation poll answer carry hear natural dog trade subst multiple
    fans sort global achie language tal necessary details sen sil medical und ver receive morning bank sat device safe
    ple systems assist surv battle paper growth cast plans parts wall movement practice display sometimes son avoid
    towards talking correct spent term wants doub forces please ones immediately deg parents shown conditions stuff reb
    includes experien announced determin described door changed neigh clean pan club paid attacks characters alone
    director load rout finally rac contr exactly nature career latest convers weight note teams hundred streng consist
    regul lic ten costs independ normal hom obvious swe star ready implement song interesting giving etc middle remember
    max yourself demand treatment danger guy physical related remain couldn refer citiz inn stra easily clos uses ang
    write leader reading autom legisl designed beaut appears strugg choice particularly allows difference although
    relative application aren myself imag dise society frequ poor writing seven starting bud print crim gives cool
    thinking save limited meaning nice gas eight feet effort ign opin brain wouldn touch studies center computer
    investigation increasing store comments bal doll liber wife laws modern administration opportunity sal powerful
    claims title esc beyond camer sell appl unf violence compared options throughout files detail piece named education
    drive items student throw scene complex prec concept status died knowledge beginning certainly guys slight fine fat
    perhaps income https majority greater feed safety unique gone showed histor counter leading send defense yes
    continued provides prison happy economy trust weapons analysis science figure disapp software ult officers remains
    psych cat observ stage enter passed despite movie voice toward region values mount officer hous lay pressure books
    reasons activity calls letter choose rob types platform quarter maybe moving lif gold som patients truth charge cele
    rock credit moved names straight feature rule sche click aware pattern grad associated style stories individuals
    summer arch fully mill followed jobs seemed reality lines park measure brother growing ban estim cry mechan rates
    positive culture har map altern coach kids journal corpor false web sleep contain sto bed pun meant notice favorite
    condition purpose organization challeng manufact susp critic mer mist larger advant resear actions kept aim benefits
    actual vehicle chief efforts wait adult overall speech highly female error effective encour failed conserv programs
    trou ahead crime location behavior rare emb caused ship active contribut green acqu reflect firm birth clearly emot
    agency memory biggest rap basic band suspect spread demonstr absolute places impl cards destroy virt appeared beg
    temper length blog integ resources spot forced thousands qual generally drink thus appropri whom eye college ensure
    apparent religious minor tro primary developed peace skin blue families apply inform limit resist conflic twe liter
    hair eventually pus helped agg fit prem sales seconds strength feeling tour knows exerc somew spokes ideas regist
    propos launch bottom script rat whatever mode agree sources initial restrict wonder burn nor reached sun categ cook
    promot male climate fix alleged images schools drop stream previously pet double default rank weapon stock analy
    picture century citizens onto expand hero wild update customers lik criminal leaving otherwise basis recommend floor
    crowd central dream download confir window happens unit tend spl becomes fighting predict heavy fan spend adop
    football transfer bur therefore mission noted assum disease edit progress adding raised tick seeing agreement server
    wat debate supposed largest successful jump owners offers shooting effic haven defend beat records scen employees
    devices commer benefit illeg surface harm shut lose challenge station intelligence accur requires hospital spirit
    offered produce creating cris ended daily voters smart circum extremely opinion gain useful budget comfort
    background episode enemy trial establish continues showing posted eat rise signed vill grand projects conference
    responsible learned returned brief brand highest train nom mut incident nuclear charges adjust earth prices draft
    runs candidate management teach understanding separate instance eth unless operations faith config activities
    traditional direction machine surround push easier argument micro spending theory calling der influence commit photo
    unc disp wish revealed enforce chem miles interested solution removed compar plant achieve advantage slightly placed
    tim cru mostly negative setting produced mur connection driver executive assault born structure reduce decades ded
    league join disco die assess goals senior parties learning street camera skills celebr existing willing critical
    serve cold species animals older teacher prefer thread manager professional notes fresh doubt opened guess sequ
    explain attract string context solid cities asking random depend mentioned claimed definitely core opening believed
    holding ice brow authorities score cells transl neighbor remove district worse concerns presidential policies hus
    independent protection sudden bul strategy girls missing dat politics spell graph labor kick steps smaller roll
    researchers closed transport lawy aspect none marriage elements dram hearing supported testing massive stick guard
    border copy owner digital task incred breat issued detect partners shared cancer explained heat investment wood
    tools belief crisis operation contains express amb finding funding established degree dangerous freedom church catch
    presence authority button consequ valid weak starts reference collection beautiful tells waiting providing daughter
    master purposes equal turns documents watching ran reject victims witness reform occup caught traffic models served
    batter agreed truly units variety amazing confirmed entirely purchase element cash determine cars views drugs
    department covered mere multi mix unlike stopped sem wel skill becoming appropriate weekend sites animal scale
    charged instruct methods cert judge dollars standing debt driving album commercial discovered output abuse switch
    annual stated democr residents allowing factors fuck occurred north injury insurance repeated arms construction fle
    forms mental equipment fant discussion regarding chair proceed murder supply input wealth proced putting located kid
    princ clot telling proposed funds baby spoke earn exchange pair arrested killing identified mobile thanks hundreds
    trend electric restaur trig nine bomb coverage appeal finished flow deliver calcul photos phil pieces appre rough
    partner concerned suggested herself corner husband internet balance sounds arr millions radio satisf combat fuel
    distance tests decre managed tit measures attend generation advoc conversation gender concent carried arrived
    failure minimum worst keeping intended illegal subsc determined trip raise feels package fra symb justice farm
    reduced clin hyp san novel capacity impossible plays minister fram ing communities bon strateg interests conflict
    requirements sac operating committed relatively south afford identity decisions accused victory seek tight initi
    humans familiar audience internal sides dim conclud appoint enforcement circumst joined differences protest twice
    glass expression decide planning handle maximum sea eval helps bound mouth standards clim army bug planet winning
    faster spect broken defined healthy competition announce client possibly finish crew reserv editor hate sale
    controvers pages numer opposition refuge flight apart applications gar upgr shape speaking worry hun introduced diet
    functions stress accounts guarant honest tree sch fif exercise scientists legislation survey rich maintain flo
    leadership magic figures absolutely fourth presented alcohol grab vari quant plus alternative pil approx objects
    significantly acknow uns negoti television committee motor appearance sitting strike fold belong mort prepared
    indeed rent advice changing listed launched lived sets philos applied housing odd sust powers thr remaining causes
    manner suggests ends gay termin scientific coal sym minute leaves completed focused monitor vehicles affected
    construct follows ton homes elim largely votes businesses yards materials guide closer sports taxes decade vir
    dropped delay secure treated filed van mir column rot consult entry marijuana apparently increases specifically tele
    religion frame helping edge organizations bigger boost row rid stret vision wearing appreci award factor god territ
    param enemies accident ath forg veter stars expensive acad lock format soldiers agent responsibility rapid tough
    believes wear commission warm hasn univers king patient happening bought soul seat revolution ring offensive returns
    videos discl famous candidates percentage visual thank trouble prove enh connected possibility expert library
    okay yeah yep yup nope gonna wanna gotta alright everybody somebody anybody nobody everyone someone anyone sorry
    thanks hello hmm umm ummm kinda sorta stuff maybe lots pretty really cause else whatever whoever tomorrow
    yesterday twenty thirty forty fifty sixty seventy eighty ninety thousand million billion eleven twelve thirteen
    fourteen fifteen sixteen seventeen eighteen nineteen fourth fifth sixth seventh eighth ninth tenth once twice
    pencil pencils lesson lessons homework minute minutes seconds please listen listening hands raise talk talking
    write writing wrote read reading sit sitting partner partners table tables folks ready finished everybody
    """.split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*")


@dataclass(frozen=True)
class TermCount:
    term: str
    count: int


@dataclass(frozen=True)
class SubjectTerm:
    term: str  # the teacher's first form of the word (lower case)
    teacher_count: int
    pupil_count: int
    teacher_first_s: float | None
    pupil_first_s: float | None


@dataclass(frozen=True)
class MirroredTerm:
    term: str
    teacher_first_s: float
    pupil_first_s: float
    pupil_uses: int
    teacher_uses: int


@dataclass(frozen=True)
class LanguageStats:
    teacher_words: int
    pupil_words: int
    thinking_teacher: tuple[TermCount, ...]  # most used first
    thinking_pupil: tuple[TermCount, ...]
    thinking_teacher_total: int
    thinking_pupil_total: int
    thinking_teacher_per_100_words: float
    thinking_pupil_per_100_words: float
    subject_terms: tuple[SubjectTerm, ...]  # most used by the teacher first
    mirrored: tuple[MirroredTerm, ...]  # in the order pupils first used them


@dataclass(frozen=True)
class LanguageSettings:
    min_term_len: int = 5
    min_teacher_uses: int = 2
    max_subject_terms: int = 40


@dataclass(frozen=True)
class _Token:
    word: str  # lower case, apostrophes kept out
    time: float
    role: str
    capitalised: bool
    initial: bool  # the first word of its sentence


def language_stats(
    utterances: Sequence[Utterance],
    turns: Sequence[RoleTurn] = (),
    settings: LanguageSettings = LanguageSettings(),
    presplit: bool = False,
) -> LanguageStats:
    """Thinking words, subject terms and mirroring by role (``presplit``: the utterances are
    ``split_sentences`` output already)."""
    tokens = _tokens(tuple(utterances) if presplit else split_sentences(utterances, turns))
    words = {"teacher": 0, "pupil": 0}
    thinking: dict[str, dict[str, int]] = {"teacher": {}, "pupil": {}}
    for tok in tokens:
        words[tok.role] += 1
        if tok.word in THINKING_WORDS:
            thinking[tok.role][tok.word] = thinking[tok.role].get(tok.word, 0) + 1

    # names: words the ASR mostly capitalises where they are not sentence-initial
    caps: dict[str, list[bool]] = {}
    for tok in tokens:
        if not tok.initial:
            caps.setdefault(tok.word, []).append(tok.capitalised)
    names = {w for w, flags in caps.items() if sum(flags) * 2 > len(flags)}

    stems: dict[str, dict] = {}
    for tok in tokens:
        w = tok.word
        if len(w) < settings.min_term_len or _is_common(w) or w in names or not w.isalpha():
            continue
        entry = stems.setdefault(_stem(w), {"form": None, "teacher": 0, "pupil": 0, "tfirst": None, "pfirst": None})
        if tok.role == "teacher":
            entry["teacher"] += 1
            if entry["tfirst"] is None or tok.time < entry["tfirst"]:
                entry["tfirst"] = tok.time
                entry["form"] = w
        else:
            entry["pupil"] += 1
            if entry["pfirst"] is None or tok.time < entry["pfirst"]:
                entry["pfirst"] = tok.time
                entry["form"] = entry["form"] or w
    subject = [
        SubjectTerm(e["form"], e["teacher"], e["pupil"], e["tfirst"], e["pfirst"])
        for e in stems.values()
        if e["teacher"] >= settings.min_teacher_uses or (e["teacher"] >= 1 and e["pupil"] >= 1)
    ]
    subject.sort(key=lambda t: (-t.teacher_count, -t.pupil_count, t.term))
    mirrored = [
        MirroredTerm(t.term, t.teacher_first_s, t.pupil_first_s, t.pupil_count, t.teacher_count)
        for t in subject
        if t.teacher_first_s is not None and t.pupil_first_s is not None and t.teacher_first_s < t.pupil_first_s
    ]
    mirrored.sort(key=lambda m: (m.pupil_first_s, m.term))

    def counts(role: str) -> tuple[TermCount, ...]:
        return tuple(TermCount(w, c) for w, c in sorted(thinking[role].items(), key=lambda kv: (-kv[1], kv[0])))

    t_total, p_total = sum(thinking["teacher"].values()), sum(thinking["pupil"].values())
    return LanguageStats(
        teacher_words=words["teacher"],
        pupil_words=words["pupil"],
        thinking_teacher=counts("teacher"),
        thinking_pupil=counts("pupil"),
        thinking_teacher_total=t_total,
        thinking_pupil_total=p_total,
        thinking_teacher_per_100_words=100.0 * t_total / words["teacher"] if words["teacher"] else 0.0,
        thinking_pupil_per_100_words=100.0 * p_total / words["pupil"] if words["pupil"] else 0.0,
        subject_terms=tuple(subject[: settings.max_subject_terms]),
        mirrored=tuple(mirrored),
    )


def _is_common(word: str) -> bool:
    """In the common list, itself or with a regular ending removed ("lowers" -> "lower", "tries" -> "try")."""
    if word in COMMON_WORDS:
        return True
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
                         ("er", ""), ("est", ""), ("ly", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and word[: -len(suffix)] + repl in COMMON_WORDS:
            return True
    return False


def _stem(word: str) -> str:
    return word[:6] if len(word) >= 7 else (word[:-1] if word.endswith("s") and len(word) > 3 else word)


def _tokens(sentences: Sequence[Utterance]) -> list[_Token]:
    out: list[_Token] = []
    for s in sentences:
        if s.role not in ("teacher", "pupil"):
            continue
        if s.words:
            timed = [(w.start, w.text) for w in s.words]
        else:
            timed = [(s.start, s.text)]
        first = True
        for t, text in timed:
            for m in _WORD.finditer(text):
                raw = m.group(0).replace("\u2019", "'")
                for part in raw.split("-"):
                    if not part:
                        continue
                    word = part.lower().replace("'", "")
                    if word:
                        out.append(_Token(word, float(t), s.role, part[0].isupper(), first))
                    first = False
    return out


__all__ = [
    "COMMON_WORDS",
    "THINKING_WORDS",
    "LanguageSettings",
    "LanguageStats",
    "MirroredTerm",
    "SubjectTerm",
    "TermCount",
    "language_stats",
]
