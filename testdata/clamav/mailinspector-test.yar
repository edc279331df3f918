// A YARA rule that ClamAV loads from its database directory; it reports
// matches as YARA.<rule>.UNOFFICIAL.
rule MailInspector_Test_YARA
{
    meta:
        description = "Mail Inspector test rule: matches its own marker string"
    strings:
        $marker = "MAILINSPECTOR-YARA-TEST-7f3c"
    condition:
        $marker
}
