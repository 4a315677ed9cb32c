"""Demo data: real institutions, invented people, and the events the product is built for."""

# Institutions are real, with ISO 3166-1 alpha-2 countries and IANA zones. People are
# invented; their emails use the reserved example.org domain (RFC 2606) so that no demo
# message can reach a real person: firstname.lastname@<short name>.example.org.
# Dates and times are local: `local_start` is in the event's home zone.

# Laid out by hand, one person on two lines: keep formatters out.
# fmt: off
INSTITUTIONS = [
    {
        "key": "pku",
        "name": "Peking University",
        "short_name": "PKU",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "subdivision": None,
        "blackouts": [
            {"start_date": "2027-01-18", "end_date": "2027-02-26",
             "reason": "Winter vacation (Spring Festival, 6 February)"},
        ],
        "people": [
            {"name": "Zhiqiang Chen", "email": "zhiqiang.chen@pku.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Xiaoyan Li", "email": "xiaoyan.li@pku.example.org",
             "role_title": "Director, Office of International Relations", "timezone": None},
            {"name": "Lihua Zhang", "email": "lihua.zhang@pku.example.org",
             "role_title": "Vice-President for International Affairs", "timezone": None},
            {"name": "Jun Wang", "email": "jun.wang@pku.example.org",
             "role_title": (
                 "Professor of Environmental Science, College of Environmental Sciences and "
                 "Engineering"
             ),
             "timezone": None},
            {"name": "Yue Ma", "email": "yue.ma@pku.example.org",
             "role_title": "Professor of Arabic Studies, School of Foreign Languages",
             "timezone": None},
        ],
    },
    {
        "key": "tsinghua",
        "name": "Tsinghua University",
        "short_name": "THU",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Guoqiang Sun", "email": "guoqiang.sun@thu.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Jing Huang", "email": "jing.huang@thu.example.org",
             "role_title": "Director, Office of International Affairs", "timezone": None},
        ],
    },
    {
        "key": "fudan",
        "name": "Fudan University",
        "short_name": "Fudan",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Ming Xu", "email": "ming.xu@fudan.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Yan Zhou", "email": "yan.zhou@fudan.example.org",
             "role_title": "Director, Foreign Affairs Office", "timezone": None},
        ],
    },
    {
        "key": "zju",
        "name": "Zhejiang University",
        "short_name": "ZJU",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Hong Wu", "email": "hong.wu@zju.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Lei Zhu", "email": "lei.zhu@zju.example.org",
             "role_title": "Director, Office of Global Engagement", "timezone": None},
        ],
    },
    {
        "key": "utokyo",
        "name": "University of Tokyo",
        "short_name": "UTokyo",
        "country": "JP",
        "timezone": "Asia/Tokyo",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Hiroshi Tanaka", "email": "hiroshi.tanaka@utokyo.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Yuko Nakamura", "email": "yuko.nakamura@utokyo.example.org",
             "role_title": "Director, International Affairs Division", "timezone": None},
            {"name": "Takeshi Yamamoto", "email": "takeshi.yamamoto@utokyo.example.org",
             "role_title": "Executive Vice President for Global Engagement", "timezone": None},
            {"name": "Kenji Watanabe", "email": "kenji.watanabe@utokyo.example.org",
             "role_title": "Director, UTokyo Beijing Office", "timezone": "Asia/Shanghai"},
        ],
    },
    {
        "key": "kyoto",
        "name": "Kyoto University",
        "short_name": "KyotoU",
        "country": "JP",
        "timezone": "Asia/Tokyo",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Akira Suzuki", "email": "akira.suzuki@kyotou.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Megumi Kobayashi", "email": "megumi.kobayashi@kyotou.example.org",
             "role_title": "Director, Office of International Strategy", "timezone": None},
        ],
    },
    {
        "key": "qu",
        "name": "Qatar University",
        "short_name": "QU",
        "country": "QA",
        "timezone": "Asia/Qatar",
        "subdivision": None,
        "blackouts": [
            {"start_date": "2027-03-08", "end_date": "2027-03-16",
             "reason": "Eid al-Fitr break (dates depend on the sighting of the moon)"},
        ],
        "people": [
            {"name": "Hamad Al-Kuwari", "email": "hamad.al-kuwari@qu.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Noora Al-Sulaiti", "email": "noora.al-sulaiti@qu.example.org",
             "role_title": "Director, International Affairs Office", "timezone": None},
            {"name": "Abdulla Al-Marri", "email": "abdulla.al-marri@qu.example.org",
             "role_title": "Vice President for Research and Graduate Studies", "timezone": None},
            {"name": "Fatima Al-Naimi", "email": "fatima.al-naimi@qu.example.org",
             "role_title": "Dean, College of Engineering", "timezone": None},
        ],
    },
    {
        "key": "umich",
        "name": "University of Michigan",
        "short_name": "UMich",
        "country": "US",
        "timezone": "America/Detroit",
        "subdivision": "MI",
        "blackouts": [],
        "people": [
            {"name": "Daniel Whitaker", "email": "daniel.whitaker@umich.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Priya Raman", "email": "priya.raman@umich.example.org",
             "role_title": "Associate Vice Provost for Global Engagement", "timezone": None},
        ],
    },
    {
        "key": "harvard",
        "name": "Harvard University",
        "short_name": "Harvard",
        "country": "US",
        "timezone": "America/New_York",
        "subdivision": "MA",
        "blackouts": [],
        "people": [
            {"name": "Jonathan Pierce", "email": "jonathan.pierce@harvard.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Laura Bennett", "email": "laura.bennett@harvard.example.org",
             "role_title": "Director, Harvard International Office", "timezone": None},
        ],
    },
    {
        "key": "columbia",
        "name": "Columbia University",
        "short_name": "Columbia",
        "country": "US",
        "timezone": "America/New_York",
        "subdivision": "NY",
        "blackouts": [],
        "people": [
            {"name": "Richard Hale", "email": "richard.hale@columbia.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Mei Lin", "email": "mei.lin@columbia.example.org",
             "role_title": "Director, Columbia Global Center Beijing",
             "timezone": "Asia/Shanghai"},
        ],
    },
    {
        "key": "stanford",
        "name": "Stanford University",
        "short_name": "Stanford",
        "country": "US",
        "timezone": "America/Los_Angeles",
        "subdivision": "CA",
        "blackouts": [],
        "people": [
            {"name": "Elizabeth Grant", "email": "elizabeth.grant@stanford.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Carlos Mendoza", "email": "carlos.mendoza@stanford.example.org",
             "role_title": "Director, Bechtel International Center", "timezone": None},
        ],
    },
    {
        "key": "berkeley",
        "name": "University of California, Berkeley",
        "short_name": "UC Berkeley",
        "country": "US",
        "timezone": "America/Los_Angeles",
        "subdivision": "CA",
        "blackouts": [],
        "people": [
            {"name": "Anne Kowalski", "email": "anne.kowalski@ucberkeley.example.org",
             "role_title": "Chancellor", "timezone": None},
            {"name": "David Park", "email": "david.park@ucberkeley.example.org",
             "role_title": "Director, Berkeley International Office", "timezone": None},
        ],
    },
    {
        "key": "sapienza",
        "name": "Sapienza University of Rome",
        "short_name": "Sapienza",
        "country": "IT",
        "timezone": "Europe/Rome",
        "subdivision": "RM",
        "blackouts": [],
        "people": [
            {"name": "Giulia Romano", "email": "giulia.romano@sapienza.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Marco Ferri", "email": "marco.ferri@sapienza.example.org",
             "role_title": "Director, International Relations Office", "timezone": None},
        ],
    },
    {
        "key": "unibo",
        "name": "University of Bologna",
        "short_name": "UNIBO",
        "country": "IT",
        "timezone": "Europe/Rome",
        "subdivision": "BO",
        "blackouts": [],
        "people": [
            {"name": "Lorenzo Bianchi", "email": "lorenzo.bianchi@unibo.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Francesca Greco", "email": "francesca.greco@unibo.example.org",
             "role_title": "Head, International Relations Division", "timezone": None},
        ],
    },
    {
        "key": "polimi",
        "name": "Politecnico di Milano",
        "short_name": "PoliMi",
        "country": "IT",
        "timezone": "Europe/Rome",
        "subdivision": "MI",
        "blackouts": [],
        "people": [
            {"name": "Alessandro Colombo", "email": "alessandro.colombo@polimi.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Elena Marchetti", "email": "elena.marchetti@polimi.example.org",
             "role_title": "Director, International Relations", "timezone": None},
        ],
    },
    {
        "key": "sorbonne",
        "name": "Sorbonne University",
        "short_name": "Sorbonne",
        "country": "FR",
        "timezone": "Europe/Paris",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Philippe Laurent", "email": "philippe.laurent@sorbonne.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Claire Moreau", "email": "claire.moreau@sorbonne.example.org",
             "role_title": "Director, International Relations", "timezone": None},
        ],
    },
    {
        "key": "sciencespo",
        "name": "Sciences Po",
        "short_name": "Sciences Po",
        "country": "FR",
        "timezone": "Europe/Paris",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Isabelle Fontaine", "email": "isabelle.fontaine@sciencespo.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Thomas Girard", "email": "thomas.girard@sciencespo.example.org",
             "role_title": "Director, International Affairs", "timezone": None},
        ],
    },
    {
        "key": "oxford",
        "name": "University of Oxford",
        "short_name": "Oxford",
        "country": "GB",
        "timezone": "Europe/London",
        "subdivision": "ENG",
        "blackouts": [],
        "people": [
            {"name": "Jane Harrington", "email": "jane.harrington@oxford.example.org",
             "role_title": "Vice-Chancellor", "timezone": None},
            {"name": "Oliver Bennett", "email": "oliver.bennett@oxford.example.org",
             "role_title": "Director, International Strategy Office", "timezone": None},
        ],
    },
    {
        "key": "cambridge",
        "name": "University of Cambridge",
        "short_name": "Cambridge",
        "country": "GB",
        "timezone": "Europe/London",
        "subdivision": "ENG",
        "blackouts": [],
        "people": [
            {"name": "Andrew Fairbairn", "email": "andrew.fairbairn@cambridge.example.org",
             "role_title": "Vice-Chancellor", "timezone": None},
            {"name": "Sophie Clarke", "email": "sophie.clarke@cambridge.example.org",
             "role_title": "Head, International Strategy Office", "timezone": None},
        ],
    },
    {
        "key": "ucl",
        "name": "University College London",
        "short_name": "UCL",
        "country": "GB",
        "timezone": "Europe/London",
        "subdivision": "ENG",
        "blackouts": [],
        "people": [
            {"name": "Simon Whitfield", "email": "simon.whitfield@ucl.example.org",
             "role_title": "President and Provost", "timezone": None},
            {"name": "Hannah Okafor", "email": "hannah.okafor@ucl.example.org",
             "role_title": "Director, Global Engagement Office", "timezone": None},
        ],
    },
    {
        "key": "ub",
        "name": "University of Barcelona",
        "short_name": "UB",
        "country": "ES",
        "timezone": "Europe/Madrid",
        "subdivision": "CT",
        "blackouts": [],
        "people": [
            {"name": "Jordi Puig", "email": "jordi.puig@ub.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Montserrat Vidal", "email": "montserrat.vidal@ub.example.org",
             "role_title": "Director, Office of International Relations", "timezone": None},
        ],
    },
    {
        "key": "ucm",
        "name": "Complutense University of Madrid",
        "short_name": "UCM",
        "country": "ES",
        "timezone": "Europe/Madrid",
        "subdivision": "MD",
        "blackouts": [],
        "people": [
            {"name": "Javier Martín", "email": "javier.martin@ucm.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Lucía Fernández", "email": "lucia.fernandez@ucm.example.org",
             "role_title": "Director, International Relations Office", "timezone": None},
        ],
    },
    {
        "key": "kuleuven",
        "name": "KU Leuven",
        "short_name": "KU Leuven",
        "country": "BE",
        "timezone": "Europe/Brussels",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Pieter Janssens", "email": "pieter.janssens@kuleuven.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Annelies Peeters", "email": "annelies.peeters@kuleuven.example.org",
             "role_title": "Director, International Office", "timezone": None},
        ],
    },
    {
        "key": "uclouvain",
        "name": "Université catholique de Louvain",
        "short_name": "UCLouvain",
        "country": "BE",
        "timezone": "Europe/Brussels",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Jean-François Lambert",
             "email": "jean-francois.lambert@uclouvain.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Marie Dupont", "email": "marie.dupont@uclouvain.example.org",
             "role_title": "Director, International Relations Office", "timezone": None},
        ],
    },
    {
        "key": "huji",
        "name": "Hebrew University of Jerusalem",
        "short_name": "HUJI",
        "country": "IL",
        "timezone": "Asia/Jerusalem",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Avraham Levi", "email": "avraham.levi@huji.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Noa Friedman", "email": "noa.friedman@huji.example.org",
             "role_title": "Director, Office of International Affairs", "timezone": None},
        ],
    },
    {
        "key": "tau",
        "name": "Tel Aviv University",
        "short_name": "TAU",
        "country": "IL",
        "timezone": "Asia/Jerusalem",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Eitan Shapira", "email": "eitan.shapira@tau.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Maya Ben-David", "email": "maya.ben-david@tau.example.org",
             "role_title": "Head, TAU International", "timezone": None},
        ],
    },
    {
        "key": "uniba",
        "name": "Comenius University Bratislava",
        "short_name": "UNIBA",
        "country": "SK",
        "timezone": "Europe/Bratislava",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Martin Kováč", "email": "martin.kovac@uniba.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Zuzana Horváthová", "email": "zuzana.horvathova@uniba.example.org",
             "role_title": "Head, International Relations Office", "timezone": None},
        ],
    },
    {
        "key": "uppsala",
        "name": "Uppsala University",
        "short_name": "Uppsala",
        "country": "SE",
        "timezone": "Europe/Stockholm",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Karin Lindqvist", "email": "karin.lindqvist@uppsala.example.org",
             "role_title": "Vice-Chancellor", "timezone": None},
            {"name": "Erik Johansson", "email": "erik.johansson@uppsala.example.org",
             "role_title": "Head, International Office", "timezone": None},
        ],
    },
    {
        "key": "kth",
        "name": "KTH Royal Institute of Technology",
        "short_name": "KTH",
        "country": "SE",
        "timezone": "Europe/Stockholm",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Anders Berg", "email": "anders.berg@kth.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Sara Nyström", "email": "sara.nystrom@kth.example.org",
             "role_title": "Head, International Relations", "timezone": None},
        ],
    },
    {
        "key": "msu",
        "name": "Lomonosov Moscow State University",
        "short_name": "MSU",
        "country": "RU",
        "timezone": "Europe/Moscow",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Alexei Sokolov", "email": "alexei.sokolov@msu.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Natalia Volkova", "email": "natalia.volkova@msu.example.org",
             "role_title": "Director, Department of International Cooperation", "timezone": None},
        ],
    },
    {
        "key": "spbu",
        "name": "Saint Petersburg State University",
        "short_name": "SPbU",
        "country": "RU",
        "timezone": "Europe/Moscow",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Dmitry Kuznetsov", "email": "dmitry.kuznetsov@spbu.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Elena Morozova", "email": "elena.morozova@spbu.example.org",
             "role_title": "Head, International Office", "timezone": None},
        ],
    },
    {
        "key": "cuni",
        "name": "Charles University",
        "short_name": "CUNI",
        "country": "CZ",
        "timezone": "Europe/Prague",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Jan Novák", "email": "jan.novak@cuni.example.org",
             "role_title": "Rector", "timezone": None},
            {"name": "Petra Svobodová", "email": "petra.svobodova@cuni.example.org",
             "role_title": "Director, International Office", "timezone": None},
        ],
    },
    {
        "key": "nus",
        "name": "National University of Singapore",
        "short_name": "NUS",
        "country": "SG",
        "timezone": "Asia/Singapore",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Kelvin Lim", "email": "kelvin.lim@nus.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Rachel Goh", "email": "rachel.goh@nus.example.org",
             "role_title": "Director, Global Relations Office", "timezone": None},
        ],
    },
    {
        "key": "ntu",
        "name": "Nanyang Technological University",
        "short_name": "NTU",
        "country": "SG",
        "timezone": "Asia/Singapore",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Benjamin Teo", "email": "benjamin.teo@ntu.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Jasmine Koh", "email": "jasmine.koh@ntu.example.org",
             "role_title": "Director, Office of Global Education and Mobility", "timezone": None},
        ],
    },
    {
        "key": "snu",
        "name": "Seoul National University",
        "short_name": "SNU",
        "country": "KR",
        "timezone": "Asia/Seoul",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Sung-ho Park", "email": "sung-ho.park@snu.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Ji-young Choi", "email": "ji-young.choi@snu.example.org",
             "role_title": "Director, Office of International Affairs", "timezone": None},
        ],
    },
    {
        "key": "yonsei",
        "name": "Yonsei University",
        "short_name": "Yonsei",
        "country": "KR",
        "timezone": "Asia/Seoul",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Dong-hyun Kim", "email": "dong-hyun.kim@yonsei.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Seo-yeon Jung", "email": "seo-yeon.jung@yonsei.example.org",
             "role_title": "Director, Office of International Affairs", "timezone": None},
        ],
    },
    {
        "key": "utoronto",
        "name": "University of Toronto",
        "short_name": "U of T",
        "country": "CA",
        "timezone": "America/Toronto",
        "subdivision": "ON",
        "blackouts": [],
        "people": [
            {"name": "Robert MacLeod", "email": "robert.macleod@uoft.example.org",
             "role_title": "President", "timezone": None},
            {"name": "Anita Sharma", "email": "anita.sharma@uoft.example.org",
             "role_title": "Director, Global Engagement Office", "timezone": None},
        ],
    },
    {
        "key": "ubc",
        "name": "University of British Columbia",
        "short_name": "UBC",
        "country": "CA",
        "timezone": "America/Vancouver",
        "subdivision": "BC",
        "blackouts": [],
        "people": [
            {"name": "Margaret Chow", "email": "margaret.chow@ubc.example.org",
             "role_title": "President and Vice-Chancellor", "timezone": None},
            {"name": "Ryan Thompson", "email": "ryan.thompson@ubc.example.org",
             "role_title": "Director, UBC Global Engagement", "timezone": None},
        ],
    },
    {
        "key": "usyd",
        "name": "University of Sydney",
        "short_name": "USYD",
        "country": "AU",
        "timezone": "Australia/Sydney",
        "subdivision": "NSW",
        "blackouts": [],
        "people": [
            {"name": "Matthew Reid", "email": "matthew.reid@usyd.example.org",
             "role_title": "Vice-Chancellor and President", "timezone": None},
            {"name": "Emily Nguyen", "email": "emily.nguyen@usyd.example.org",
             "role_title": "Director, International Office", "timezone": None},
        ],
    },
    {
        "key": "unimelb",
        "name": "University of Melbourne",
        "short_name": "UniMelb",
        "country": "AU",
        "timezone": "Australia/Melbourne",
        "subdivision": "VIC",
        "blackouts": [],
        "people": [
            {"name": "Duncan Fraser", "email": "duncan.fraser@unimelb.example.org",
             "role_title": "Vice-Chancellor", "timezone": None},
            {"name": "Lucy Patel", "email": "lucy.patel@unimelb.example.org",
             "role_title": "Director, Global Engagement", "timezone": None},
        ],
    },
    {
        "key": "pkuhsc",
        "name": "Peking University Health Science Center",
        "short_name": "PKUHSC",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Jianhua Liang", "email": "jianhua.liang@pkuhsc.example.org",
             "role_title": "Professor of Epidemiology, School of Public Health", "timezone": None},
            {"name": "Xin Guo", "email": "xin.guo@pkuhsc.example.org",
             "role_title": "Professor of Respiratory and Critical Care Medicine",
             "timezone": None},
            {"name": "Fang Lu", "email": "fang.lu@pkuhsc.example.org",
             "role_title": "Professor of Infectious Diseases", "timezone": None},
            {"name": "Ying Song", "email": "ying.song@pkuhsc.example.org",
             "role_title": "Medical Interpreter, Office of International Cooperation",
             "timezone": None},
        ],
    },
    {
        "key": "zhongnan",
        "name": "Zhongnan Hospital of Wuhan University",
        "short_name": "Zhongnan",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Qiang Peng", "email": "qiang.peng@zhongnan.example.org",
             "role_title": "Director, Department of Critical Care Medicine", "timezone": None},
            {"name": "Ling Hu", "email": "ling.hu@zhongnan.example.org",
             "role_title": "Chief Physician, Department of Infectious Diseases", "timezone": None},
            {"name": "Bo Cheng", "email": "bo.cheng@zhongnan.example.org",
             "role_title": "Director, Department of Pulmonary and Critical Care Medicine",
             "timezone": None},
        ],
    },
    {
        "key": "umich-med",
        "name": "University of Michigan Medical School",
        "short_name": "Michigan Medicine",
        "country": "US",
        "timezone": "America/Detroit",
        "subdivision": "MI",
        "blackouts": [],
        "people": [
            {"name": "Susan Caldwell", "email": "susan.caldwell@michiganmedicine.example.org",
             "role_title": "Professor of Internal Medicine, Division of Infectious Diseases",
             "timezone": None},
            {"name": "Mark Feldman", "email": "mark.feldman@michiganmedicine.example.org",
             "role_title": (
                 "Professor of Internal Medicine, Division of Pulmonary and Critical Care "
                 "Medicine"
             ),
             "timezone": None},
            {"name": "Rebecca Stone", "email": "rebecca.stone@michiganmedicine.example.org",
             "role_title": (
                 "Professor of Epidemiology (joint appointment, School of Public Health)"
             ),
             "timezone": None},
        ],
    },
    {
        "key": "wut",
        "name": "Wuhan University of Technology",
        "short_name": "WUT",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "subdivision": None,
        "blackouts": [
            {"start_date": "2027-01-16", "end_date": "2027-02-28",
             "reason": "Winter vacation (Spring Festival, 6 February)"},
        ],
        "people": [
            {"name": "Wenjie Fang", "email": "wenjie.fang@wut.example.org",
             "role_title": "Vice-President for International Affairs", "timezone": None},
            {"name": "Qian Deng", "email": "qian.deng@wut.example.org",
             "role_title": "Director, International Office", "timezone": None},
            {"name": "Hui Yuan", "email": "hui.yuan@wut.example.org",
             "role_title": "Professor of Materials Science and Engineering", "timezone": None},
        ],
    },
    {
        "key": "unical",
        "name": "University of Calabria",
        "short_name": "UNICAL",
        "country": "IT",
        "timezone": "Europe/Rome",
        "subdivision": "CS",
        "blackouts": [],
        "people": [
            {"name": "Salvatore Russo", "email": "salvatore.russo@unical.example.org",
             "role_title": "Professor of Mechanical Engineering", "timezone": None},
        ],
    },
    {
        "key": "amu",
        "name": "Aix-Marseille University",
        "short_name": "AMU",
        "country": "FR",
        "timezone": "Europe/Paris",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Nicolas Bernard", "email": "nicolas.bernard@amu.example.org",
             "role_title": "Director, International Relations", "timezone": None},
        ],
    },
    {
        "key": "surrey",
        "name": "University of Surrey",
        "short_name": "Surrey",
        "country": "GB",
        "timezone": "Europe/London",
        "subdivision": "ENG",
        "blackouts": [],
        "people": [
            {"name": "James Whitmore", "email": "james.whitmore@surrey.example.org",
             "role_title": "Professor of Chemical Engineering", "timezone": None},
            {"name": "Rachel Turner", "email": "rachel.turner@surrey.example.org",
             "role_title": "Head, International Partnerships", "timezone": None},
        ],
    },
    {
        "key": "birmingham",
        "name": "University of Birmingham",
        "short_name": "Birmingham",
        "country": "GB",
        "timezone": "Europe/London",
        "subdivision": "ENG",
        "blackouts": [
            {"start_date": "2027-03-27", "end_date": "2027-04-25", "reason": "Easter vacation"},
            {"start_date": "2027-05-10", "end_date": "2027-06-04",
             "reason": "Summer examination period"},
        ],
        "people": [
            {"name": "Sarah Holt", "email": "sarah.holt@birmingham.example.org",
             "role_title": "Director, International Partnerships (China)", "timezone": None},
            {"name": "Peter Wright", "email": "peter.wright@birmingham.example.org",
             "role_title": "Professor of Metallurgy and Materials", "timezone": None},
        ],
    },
    {
        "key": "uwtsd",
        "name": "University of Wales Trinity Saint David",
        "short_name": "UWTSD",
        "country": "GB",
        "timezone": "Europe/London",
        "subdivision": "WLS",
        "blackouts": [],
        "people": [
            {"name": "Rhys Llewellyn", "email": "rhys.llewellyn@uwtsd.example.org",
             "role_title": "Head, International Development", "timezone": None},
        ],
    },
    {
        "key": "brunel",
        "name": "Brunel University London",
        "short_name": "Brunel",
        "country": "GB",
        "timezone": "Europe/London",
        "subdivision": "ENG",
        "blackouts": [],
        "people": [
            {"name": "Neil Patterson", "email": "neil.patterson@brunel.example.org",
             "role_title": "Professor of Civil Engineering", "timezone": None},
        ],
    },
    {
        "key": "lorraine",
        "name": "University of Lorraine",
        "short_name": "Lorraine",
        "country": "FR",
        "timezone": "Europe/Paris",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Céline Mathieu", "email": "celine.mathieu@lorraine.example.org",
             "role_title": "Vice-President for International Relations", "timezone": None},
        ],
    },
    {
        "key": "tohoku",
        "name": "Tohoku University",
        "short_name": "Tohoku",
        "country": "JP",
        "timezone": "Asia/Tokyo",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Satoshi Kato", "email": "satoshi.kato@tohoku.example.org",
             "role_title": "Professor of Materials Science", "timezone": None},
            {"name": "Aiko Mori", "email": "aiko.mori@tohoku.example.org",
             "role_title": "Director, International Office", "timezone": None},
        ],
    },
    {
        "key": "polito",
        "name": "Polytechnic University of Turin",
        "short_name": "PoliTo",
        "country": "IT",
        "timezone": "Europe/Rome",
        "subdivision": "TO",
        "blackouts": [],
        "people": [
            {"name": "Davide Conti", "email": "davide.conti@polito.example.org",
             "role_title": "Professor of Automotive Engineering", "timezone": None},
        ],
    },
    {
        "key": "technion",
        "name": "Technion - Israel Institute of Technology",
        "short_name": "Technion",
        "country": "IL",
        "timezone": "Asia/Jerusalem",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Ronit Katz", "email": "ronit.katz@technion.example.org",
             "role_title": "Professor of Materials Science and Engineering", "timezone": None},
        ],
    },
    {
        "key": "newcastle",
        "name": "University of Newcastle",
        "short_name": "UON",
        "country": "AU",
        "timezone": "Australia/Sydney",
        "subdivision": "NSW",
        "blackouts": [],
        "people": [
            {"name": "Liam Hart", "email": "liam.hart@uon.example.org",
             "role_title": "Director, International Partnerships", "timezone": None},
        ],
    },
    {
        "key": "ucdavis",
        "name": "University of California, Davis",
        "short_name": "UC Davis",
        "country": "US",
        "timezone": "America/Los_Angeles",
        "subdivision": "CA",
        "blackouts": [],
        "people": [
            {"name": "Jennifer Morales", "email": "jennifer.morales@ucdavis.example.org",
             "role_title": "Director, Global Affairs", "timezone": None},
        ],
    },
    {
        "key": "urfu",
        "name": "Ural Federal University",
        "short_name": "UrFU",
        "country": "RU",
        "timezone": "Asia/Yekaterinburg",
        "subdivision": None,
        "blackouts": [],
        "people": [
            {"name": "Andrei Belov", "email": "andrei.belov@urfu.example.org",
             "role_title": "Head, International Cooperation Office", "timezone": None},
        ],
    },
    {
        "key": "auckland",
        "name": "University of Auckland",
        "short_name": "UoA",
        "country": "NZ",
        "timezone": "Pacific/Auckland",
        "subdivision": "AUK",
        "blackouts": [],
        "people": [
            {"name": "Aroha Ngata", "email": "aroha.ngata@uoa.example.org",
             "role_title": "Director, International Office", "timezone": None},
        ],
    },
    {
        "key": "usp",
        "name": "University of São Paulo",
        "short_name": "USP",
        "country": "BR",
        "timezone": "America/Sao_Paulo",
        "subdivision": "SP",
        "blackouts": [],
        "people": [
            {"name": "Rafael Costa", "email": "rafael.costa@usp.example.org",
             "role_title": "Professor of Materials Engineering", "timezone": None},
        ],
    },
]

EVENTS = [
    {
        "key": "gulf",
        "title": "Global University Leaders Forum 2027: Universities in a Time of Crisis",
        "kind": "forum",
        "description": (
            "Video conference of university leaders modelled on the spring-2020 Global University "
            "Leaders Forum: presidents and rectors of 40 universities in 18 countries and "
            "regions, chaired from Peking University. No single hour is daytime everywhere: 20:00 "
            "in Beijing is 08:00 in Ann Arbor, 13:00 in Rome and 23:00 in Sydney. Heads of "
            "international offices may follow as observers."
        ),
        "timezone": "Asia/Shanghai",
        "default_provider": "jitsi",
        "participants": [
            {"email": "lihua.zhang@pku.example.org", "role": "chair", "required": True},
            {"email": "zhiqiang.chen@pku.example.org", "role": "participant", "required": True},
            {"email": "guoqiang.sun@thu.example.org", "role": "participant", "required": True},
            {"email": "ming.xu@fudan.example.org", "role": "participant", "required": True},
            {"email": "hong.wu@zju.example.org", "role": "participant", "required": True},
            {"email": "hiroshi.tanaka@utokyo.example.org", "role": "speaker", "required": True},
            {"email": "akira.suzuki@kyotou.example.org", "role": "participant", "required": True},
            {"email": "hamad.al-kuwari@qu.example.org", "role": "speaker", "required": True},
            {"email": "daniel.whitaker@umich.example.org", "role": "speaker", "required": True},
            {"email": "jonathan.pierce@harvard.example.org",
             "role": "participant", "required": True},
            {"email": "richard.hale@columbia.example.org",
             "role": "participant", "required": True},
            {"email": "elizabeth.grant@stanford.example.org",
             "role": "participant", "required": True},
            {"email": "anne.kowalski@ucberkeley.example.org",
             "role": "participant", "required": True},
            {"email": "giulia.romano@sapienza.example.org",
             "role": "participant", "required": True},
            {"email": "lorenzo.bianchi@unibo.example.org",
             "role": "participant", "required": True},
            {"email": "alessandro.colombo@polimi.example.org",
             "role": "participant", "required": True},
            {"email": "philippe.laurent@sorbonne.example.org",
             "role": "participant", "required": True},
            {"email": "isabelle.fontaine@sciencespo.example.org",
             "role": "participant", "required": True},
            {"email": "jane.harrington@oxford.example.org", "role": "speaker", "required": True},
            {"email": "andrew.fairbairn@cambridge.example.org",
             "role": "participant", "required": True},
            {"email": "simon.whitfield@ucl.example.org", "role": "participant", "required": True},
            {"email": "jordi.puig@ub.example.org", "role": "participant", "required": True},
            {"email": "javier.martin@ucm.example.org", "role": "participant", "required": True},
            {"email": "pieter.janssens@kuleuven.example.org",
             "role": "participant", "required": True},
            {"email": "jean-francois.lambert@uclouvain.example.org",
             "role": "participant", "required": True},
            {"email": "avraham.levi@huji.example.org", "role": "participant", "required": True},
            {"email": "eitan.shapira@tau.example.org", "role": "participant", "required": True},
            {"email": "martin.kovac@uniba.example.org", "role": "participant", "required": True},
            {"email": "karin.lindqvist@uppsala.example.org",
             "role": "participant", "required": True},
            {"email": "anders.berg@kth.example.org", "role": "participant", "required": True},
            {"email": "alexei.sokolov@msu.example.org", "role": "participant", "required": True},
            {"email": "dmitry.kuznetsov@spbu.example.org",
             "role": "participant", "required": True},
            {"email": "jan.novak@cuni.example.org", "role": "participant", "required": True},
            {"email": "kelvin.lim@nus.example.org", "role": "participant", "required": True},
            {"email": "benjamin.teo@ntu.example.org", "role": "participant", "required": True},
            {"email": "sung-ho.park@snu.example.org", "role": "participant", "required": True},
            {"email": "dong-hyun.kim@yonsei.example.org", "role": "participant", "required": True},
            {"email": "robert.macleod@uoft.example.org", "role": "participant", "required": True},
            {"email": "margaret.chow@ubc.example.org", "role": "participant", "required": True},
            {"email": "matthew.reid@usyd.example.org", "role": "speaker", "required": True},
            {"email": "duncan.fraser@unimelb.example.org",
             "role": "participant", "required": True},
            {"email": "xiaoyan.li@pku.example.org", "role": "observer", "required": False},
            {"email": "jing.huang@thu.example.org", "role": "observer", "required": False},
            {"email": "yan.zhou@fudan.example.org", "role": "observer", "required": False},
            {"email": "lei.zhu@zju.example.org", "role": "observer", "required": False},
            {"email": "yuko.nakamura@utokyo.example.org", "role": "observer", "required": False},
            {"email": "megumi.kobayashi@kyotou.example.org",
             "role": "observer", "required": False},
            {"email": "noora.al-sulaiti@qu.example.org", "role": "observer", "required": False},
            {"email": "priya.raman@umich.example.org", "role": "observer", "required": False},
            {"email": "laura.bennett@harvard.example.org", "role": "observer", "required": False},
            {"email": "mei.lin@columbia.example.org", "role": "observer", "required": False},
            {"email": "carlos.mendoza@stanford.example.org",
             "role": "observer", "required": False},
            {"email": "david.park@ucberkeley.example.org", "role": "observer", "required": False},
            {"email": "marco.ferri@sapienza.example.org", "role": "observer", "required": False},
            {"email": "francesca.greco@unibo.example.org", "role": "observer", "required": False},
            {"email": "elena.marchetti@polimi.example.org", "role": "observer", "required": False},
            {"email": "claire.moreau@sorbonne.example.org", "role": "observer", "required": False},
            {"email": "thomas.girard@sciencespo.example.org",
             "role": "observer", "required": False},
            {"email": "oliver.bennett@oxford.example.org", "role": "observer", "required": False},
            {"email": "sophie.clarke@cambridge.example.org",
             "role": "observer", "required": False},
            {"email": "hannah.okafor@ucl.example.org", "role": "observer", "required": False},
            {"email": "montserrat.vidal@ub.example.org", "role": "observer", "required": False},
            {"email": "lucia.fernandez@ucm.example.org", "role": "observer", "required": False},
            {"email": "annelies.peeters@kuleuven.example.org",
             "role": "observer", "required": False},
            {"email": "marie.dupont@uclouvain.example.org", "role": "observer", "required": False},
            {"email": "noa.friedman@huji.example.org", "role": "observer", "required": False},
            {"email": "maya.ben-david@tau.example.org", "role": "observer", "required": False},
            {"email": "zuzana.horvathova@uniba.example.org",
             "role": "observer", "required": False},
            {"email": "erik.johansson@uppsala.example.org", "role": "observer", "required": False},
            {"email": "sara.nystrom@kth.example.org", "role": "observer", "required": False},
            {"email": "natalia.volkova@msu.example.org", "role": "observer", "required": False},
            {"email": "elena.morozova@spbu.example.org", "role": "observer", "required": False},
            {"email": "petra.svobodova@cuni.example.org", "role": "observer", "required": False},
            {"email": "rachel.goh@nus.example.org", "role": "observer", "required": False},
            {"email": "jasmine.koh@ntu.example.org", "role": "observer", "required": False},
            {"email": "ji-young.choi@snu.example.org", "role": "observer", "required": False},
            {"email": "seo-yeon.jung@yonsei.example.org", "role": "observer", "required": False},
            {"email": "anita.sharma@uoft.example.org", "role": "observer", "required": False},
            {"email": "ryan.thompson@ubc.example.org", "role": "observer", "required": False},
            {"email": "emily.nguyen@usyd.example.org", "role": "observer", "required": False},
            {"email": "lucy.patel@unimelb.example.org", "role": "observer", "required": False},
        ],
        "sessions": [
            {
                "title": "Opening plenary: the role of universities in a global health crisis",
                "local_start": "2027-03-16T20:00",
                "duration_minutes": 120,
                "rrule": None,
            },
            {
                "title": "Panel: keeping international teaching and research going online",
                "local_start": "2027-03-18T20:00",
                "duration_minutes": 90,
                "rrule": None,
            },
        ],
    },
    {
        "key": "pku-utokyo",
        "title": "Peking University - University of Tokyo strategic partnership call",
        "kind": "bilateral",
        "description": (
            "Monthly call under the cooperation framework between Peking University and the "
            "University of Tokyo: joint research projects, student exchange and the East Asian "
            "partnership programme. 16:00 in Beijing is 17:00 in Tokyo."
        ),
        "timezone": "Asia/Shanghai",
        "default_provider": "jitsi",
        "participants": [
            {"email": "lihua.zhang@pku.example.org", "role": "chair", "required": True},
            {"email": "xiaoyan.li@pku.example.org", "role": "participant", "required": True},
            {"email": "jun.wang@pku.example.org", "role": "participant", "required": True},
            {"email": "takeshi.yamamoto@utokyo.example.org",
             "role": "participant", "required": True},
            {"email": "yuko.nakamura@utokyo.example.org", "role": "participant", "required": True},
            {"email": "kenji.watanabe@utokyo.example.org",
             "role": "participant", "required": False},
        ],
        "sessions": [
            {
                "title": "Monthly partnership call",
                "local_start": "2027-03-09T16:00",
                "duration_minutes": 60,
                "rrule": "FREQ=MONTHLY;BYDAY=2TU;COUNT=6",
            },
        ],
    },
    {
        "key": "pku-qu",
        "title": "Peking University - Qatar University cooperation working group",
        "kind": "bilateral",
        "description": (
            "Weekly working-group call between Peking University and Qatar University on joint "
            "engineering programmes and Arabic and Chinese language teaching. Wednesday 16:00 in "
            "Beijing is 11:00 in Doha, inside the Qatari working week (the weekend there is "
            "Friday-Saturday). Chinese-Arabic interpretation is provided by PKU."
        ),
        "timezone": "Asia/Shanghai",
        "default_provider": "jitsi",
        "participants": [
            {"email": "lihua.zhang@pku.example.org", "role": "chair", "required": True},
            {"email": "xiaoyan.li@pku.example.org", "role": "participant", "required": True},
            {"email": "yue.ma@pku.example.org", "role": "interpreter", "required": True},
            {"email": "abdulla.al-marri@qu.example.org", "role": "participant", "required": True},
            {"email": "fatima.al-naimi@qu.example.org", "role": "participant", "required": True},
            {"email": "noora.al-sulaiti@qu.example.org", "role": "participant", "required": False},
        ],
        "sessions": [
            {
                "title": "Weekly working group",
                "local_start": "2027-03-03T16:00",
                "duration_minutes": 60,
                "rrule": "FREQ=WEEKLY;BYDAY=WE;COUNT=8",
            },
        ],
    },
    {
        "key": "wuhan-exchange",
        "title": "Clinical expert exchange: Beijing - Wuhan - Ann Arbor",
        "kind": "exchange",
        "description": (
            "Weekly exchange of clinical experience between medical experts of Peking University "
            "Health Science Center, Zhongnan Hospital of Wuhan University and the University of "
            "Michigan Medical School: epidemiology, critical care, infectious diseases and "
            "respiratory medicine. The call stays at 21:00 in Beijing; China has no daylight "
            "saving time, so in Ann Arbor it moves from 08:00 to 09:00 when US clocks change on "
            "14 March 2027."
        ),
        "timezone": "Asia/Shanghai",
        "default_provider": "jitsi",
        "participants": [
            {"email": "jianhua.liang@pkuhsc.example.org", "role": "chair", "required": True},
            {"email": "xin.guo@pkuhsc.example.org", "role": "speaker", "required": True},
            {"email": "fang.lu@pkuhsc.example.org", "role": "participant", "required": True},
            {"email": "ying.song@pkuhsc.example.org", "role": "interpreter", "required": True},
            {"email": "qiang.peng@zhongnan.example.org", "role": "speaker", "required": True},
            {"email": "ling.hu@zhongnan.example.org", "role": "participant", "required": True},
            {"email": "bo.cheng@zhongnan.example.org", "role": "participant", "required": True},
            {"email": "susan.caldwell@michiganmedicine.example.org",
             "role": "speaker", "required": True},
            {"email": "mark.feldman@michiganmedicine.example.org",
             "role": "participant", "required": True},
            {"email": "rebecca.stone@michiganmedicine.example.org",
             "role": "participant", "required": True},
        ],
        "sessions": [
            {
                "title": "Weekly clinical case conference",
                "local_start": "2027-02-24T21:00",
                "duration_minutes": 90,
                "rrule": "FREQ=WEEKLY;COUNT=6",
            },
        ],
    },
    {
        "key": "wut-network",
        "title": "WUT partner network lecture series: materials for sustainable engineering",
        "kind": "series",
        "description": (
            "Weekly teaching series of Wuhan University of Technology with its partner "
            "institutions: each week a partner professor lectures to WUT students and the "
            "network. 15:00 in Beijing is 08:00 in London, 09:00 in Turin, 17:00 in Newcastle and "
            "19:00 in Auckland, but 03:00 in Toronto and midnight in Davis: partners in the "
            "Americas are invited as optional participants and can follow the recordings."
        ),
        "timezone": "Asia/Shanghai",
        "default_provider": "jitsi",
        "participants": [
            {"email": "wenjie.fang@wut.example.org", "role": "chair", "required": True},
            {"email": "james.whitmore@surrey.example.org", "role": "speaker", "required": True},
            {"email": "satoshi.kato@tohoku.example.org", "role": "speaker", "required": True},
            {"email": "davide.conti@polito.example.org", "role": "speaker", "required": True},
            {"email": "ronit.katz@technion.example.org", "role": "speaker", "required": True},
            {"email": "qian.deng@wut.example.org", "role": "participant", "required": True},
            {"email": "hui.yuan@wut.example.org", "role": "participant", "required": True},
            {"email": "salvatore.russo@unical.example.org",
             "role": "participant", "required": False},
            {"email": "nicolas.bernard@amu.example.org", "role": "participant", "required": False},
            {"email": "rachel.turner@surrey.example.org",
             "role": "participant", "required": False},
            {"email": "sarah.holt@birmingham.example.org",
             "role": "participant", "required": False},
            {"email": "peter.wright@birmingham.example.org",
             "role": "participant", "required": False},
            {"email": "rhys.llewellyn@uwtsd.example.org",
             "role": "participant", "required": False},
            {"email": "neil.patterson@brunel.example.org",
             "role": "participant", "required": False},
            {"email": "celine.mathieu@lorraine.example.org",
             "role": "participant", "required": False},
            {"email": "aiko.mori@tohoku.example.org", "role": "participant", "required": False},
            {"email": "jasmine.koh@ntu.example.org", "role": "participant", "required": False},
            {"email": "ji-young.choi@snu.example.org", "role": "participant", "required": False},
            {"email": "anita.sharma@uoft.example.org", "role": "participant", "required": False},
            {"email": "liam.hart@uon.example.org", "role": "participant", "required": False},
            {"email": "jennifer.morales@ucdavis.example.org",
             "role": "participant", "required": False},
            {"email": "andrei.belov@urfu.example.org", "role": "participant", "required": False},
            {"email": "aroha.ngata@uoa.example.org", "role": "participant", "required": False},
            {"email": "rafael.costa@usp.example.org", "role": "participant", "required": False},
        ],
        "sessions": [
            {
                "title": "Partner lecture",
                "local_start": "2027-04-13T15:00",
                "duration_minutes": 90,
                "rrule": "FREQ=WEEKLY;COUNT=4",
            },
        ],
    },
]
# fmt: on

if __name__ == "__main__":
    # Self-check of the invariants the seeding command relies on:
    #   python3 forum/demo/data.py
    import datetime
    import os
    import re
    import zoneinfo
    from collections import Counter

    FORUM_COUNTRIES = {*"CN JP QA US IT FR GB ES BE IL SK SE RU CZ SG KR CA AU".split()}

    def zone(name):
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise SystemExit(f"unknown time zone {name!r}") from exc

    def unique(values, what):
        dupes = [v for v, n in Counter(values).items() if n > 1]
        assert not dupes, f"duplicate {what}: {dupes}"

    # Countries of each zone, from the system's zone.tab when there is one.
    zone_countries = {}
    for base in zoneinfo.TZPATH:
        tab = os.path.join(base, "zone.tab")
        if os.path.exists(tab):
            with open(tab, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip() and not line.startswith("#"):
                        code, _, tzname = line.split("\t")[:3]
                        zone_countries.setdefault(tzname.strip(), set()).add(code)
            break

    unique([i["key"] for i in INSTITUTIONS], "institution keys")
    unique([i["name"] for i in INSTITUTIONS], "institution names")
    unique([e["key"] for e in EVENTS], "event keys")
    people = {}
    for inst in INSTITUTIONS:
        assert re.fullmatch(r"[A-Z]{2}", inst["country"]), inst["name"]
        zone(inst["timezone"])
        if zone_countries:
            known = zone_countries.get(inst["timezone"], ())
            assert inst["country"] in known, inst["name"]
        subdivision = inst["subdivision"]
        if subdivision is not None:
            assert re.fullmatch(r"[A-Z0-9]{1,3}", subdivision), subdivision
        for b in inst["blackouts"]:
            start = datetime.date.fromisoformat(b["start_date"])
            assert start <= datetime.date.fromisoformat(b["end_date"]), b
            assert b["reason"], b
        domain = re.sub(r"[^a-z0-9-]", "", inst["short_name"].lower()) + ".example.org"
        assert inst["people"], inst["name"]
        for p in inst["people"]:
            local, _, host = p["email"].partition("@")
            assert host == domain, p["email"]
            name_part = r"[a-z]+(-[a-z]+)*"
            assert re.fullmatch(rf"{name_part}\.{name_part}", local), p["email"]
            assert p["name"] and p["role_title"], p
            if p["timezone"] is not None:
                zone(p["timezone"])
            key = p["email"].lower()
            assert key not in people, f"duplicate email {p['email']}"
            people[key] = (inst, p)

    kinds = {"forum", "bilateral", "exchange", "series"}
    roles = {"chair", "speaker", "participant", "observer", "interpreter"}
    for event in EVENTS:
        assert event["kind"] in kinds, event["key"]
        zone(event["timezone"])
        emails = [x["email"].lower() for x in event["participants"]]
        unique(emails, f"participants in {event['key']}")
        for x in event["participants"]:
            assert x["email"].lower() in people, f"unknown email {x['email']}"
            assert x["role"] in roles and isinstance(x["required"], bool), x
        chairs = [x for x in event["participants"] if x["role"] == "chair"]
        assert len(chairs) == 1, event["key"]
        for s in event["sessions"]:
            datetime.datetime.fromisoformat(s["local_start"])
            assert 0 < s["duration_minutes"] <= 24 * 60, s

    forum = next(e for e in EVENTS if e["kind"] == "forum")
    forum_insts = {people[x["email"].lower()][0]["key"] for x in forum["participants"]}
    forum_countries = {i["country"] for i in INSTITUTIONS if i["key"] in forum_insts}
    assert len(forum_insts) == 40, len(forum_insts)
    assert forum_countries == FORUM_COUNTRIES, forum_countries ^ FORUM_COUNTRIES
    forum_roles = Counter(x["role"] for x in forum["participants"])
    assert 4 <= forum_roles["speaker"] <= 6, forum_roles
    chair = next(x for x in forum["participants"] if x["role"] == "chair")
    assert people[chair["email"].lower()][0]["key"] == "pku", chair

    print(
        f"{len(INSTITUTIONS)} institutions in "
        f"{len({i['country'] for i in INSTITUTIONS})} countries, {len(people)} people, "
        f"{len(EVENTS)} events"
    )
    for event in EVENTS:
        insts = {people[x["email"].lower()][0]["key"] for x in event["participants"]}
        countries = {i["country"] for i in INSTITUTIONS if i["key"] in insts}
        role_counts = Counter(x["role"] for x in event["participants"])
        print(
            f"  {event['key']:<15} {event['kind']:<10} {len(insts):>2} institutions, "
            f"{len(countries):>2} countries, {len(event['participants']):>2} participants "
            f"{dict(sorted(role_counts.items()))}"
        )
    # The exchange stays at 21:00 in Beijing; Ann Arbor's hour moves on 2027-03-14.
    exchange = next(e for e in EVENTS if e["kind"] == "exchange")
    home, detroit = zone(exchange["timezone"]), zone("America/Detroit")
    first = datetime.datetime.fromisoformat(exchange["sessions"][0]["local_start"])
    hours = [
        (first + datetime.timedelta(weeks=n)).replace(tzinfo=home).astimezone(detroit)
        for n in range(6)
    ]
    ann_arbor = ", ".join(h.strftime("%m-%d %H:%M") for h in hours)
    print(f"  exchange in Ann Arbor: {ann_arbor}")
    print("OK")
