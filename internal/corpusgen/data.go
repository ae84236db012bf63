package corpusgen

import "strings"

// Word lists for the generated text. Common words come first:
// appendParagraph picks low indices more often, which gives text a
// natural-looking word frequency.
var words = strings.Fields(`
the to and of a in is it that for you this be on with not are have as
we at if can will but or so was do from all just an they by what there
about would one my should me think like out our more some when get also
up which no could any time now then know your been need see only has how
them us other make new want work go well good other use same way because
still than first look back into here where over after very much going
right last take next its these before thing people week check sure really
again since those while around data file test build change issue server
release version update patch fix error message report problem mail client
list user system code config support question meeting team plan draft
review comment note call today tomorrow monday friday morning afternoon
project budget invoice order account payment delivery schedule agenda
minutes office document attached copy link page site customer price
quote contract proposal request approval deadline status summary figure
table chart number total month quarter year week day hour minute
please thanks thank regards cheers hello hi hey dear best kind
running memory disk network kernel driver module package library
function method variable branch commit merge rebase tag repository
install upgrade backup restore migrate deploy cluster node queue cache
index database query table column row schema field value key token
password login session timeout retry limit size count offset buffer
stream socket port address route host domain certificate signature
probably maybe perhaps certainly actually basically honestly anyway
agree disagree suggest propose prefer expect assume wonder guess hope
small large quick slow early late simple hard easy clear different
important possible available broken missing wrong correct useful
interesting strange annoying reasonable obvious likely unlikely
however although therefore otherwise instead meanwhile besides
garden kitchen weekend holiday train flight hotel dinner lunch coffee
birthday party photos trip weather rain snow sunny cold warm
`)

// utf8Words are mixed into the text of 8-bit and quoted-printable messages.
var utf8Words = strings.Fields(`
café naïve résumé über Grüße Straße Müller déjà señor año niño
København smörgåsbord Åsa Ørsted Zürich Köln façade crème brûlée
Łódź Dvořák Škoda İstanbul Αθήνα Москва привет спасибо 東京 こんにちは
€ £ ½ ° – — “quoted” ‘single’ … naïveté coöperate rôle hôtel
`)

var subjectWords = strings.Fields(`
quarterly numbers meeting notes draft proposal invoice budget review
release candidate build failure patch series question about config
weekend plans flight booking server migration backup report outage
follow up action items contract renewal price list photos from the trip
security update password reset new version holiday schedule agenda
minutes test results performance regression memory leak documentation
`)

var firstNames = strings.Fields(`
Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia
Peggy Rupert Sybil Trent Victor Walter Yolanda Zoe Anna Ben Chloé Daniel
Emma Felix Hannah Jonas Lena Marco Nora Oskar Paula Rafael Sofia Tomás
Ulla Wei Yuki Amir Priya Kofi Ingrid Mateo Leila Sven Aiko
`)

var lastNames = strings.Fields(`
Smith Jones Müller Garcia Martin Rossi Novak Kowalski Nielsen Dubois
Silva Tanaka Kim Chen Patel Okafor Andersson Costa Moreau Weber Fischer
Schmidt Lopez Hansen Berg Ivanova Horvat Kaya Nakamura Fernández
`)

var domains = strings.Fields(`
example.org example.com example.net mail.example.org corp.example.com
acme.example univ.example bank.example shop.example lists.example.org
post.example consult.example studio.example
`)

var mailers = []string{
	"X-Mailer: Apple Mail (2.3731.700.6)",
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.7.1",
	"X-Mailer: Microsoft Outlook 16.0",
	"User-Agent: Mutt/2.2.13 (2024-03-09)",
	"X-Mailer: git-send-email 2.47.2",
	"User-Agent: Roundcube Webmail/1.6.9",
	"X-Mailer: Evolution 3.52.4",
	"User-Agent: Gnus/5.13 (Gnus v5.13)",
	"X-Mailer: iPhone Mail (22D72)",
}

var lists = []string{"go-nuts", "dev", "announce", "users", "linux-mips", "project-discuss"}

var zones = []struct {
	name   string
	offset int // seconds east of UTC
}{
	{"+0000", 0}, {"+0100", 3600}, {"+0200", 7200}, {"-0500", -5 * 3600},
	{"-0800", -8 * 3600}, {"+0530", 5*3600 + 1800}, {"+0900", 9 * 3600}, {"-0300", -3 * 3600},
}

var attachments = []struct {
	ctype, ext string
	magic      string
}{
	{"application/pdf", "pdf", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"},
	{"image/jpeg", "jpg", "\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00"},
	{"image/png", "png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
	{"application/zip", "zip", "PK\x03\x04\x14\x00\x06\x00"},
	{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", "PK\x03\x04\x14\x00\x06\x00"},
	{"application/octet-stream", "bin", "\x7fELF\x02\x01\x01\x00"},
}

var attachmentStems = strings.Fields(`
report invoice scan photo IMG_4821 budget-2025 slides contract minutes
statement receipt diagram export backup notes
`)

// fromLines start with "From " as real prose and patches do; in an mbox they
// must be quoted.
var fromLines = []string{
	"From what I can tell, the problem started after the last update.",
	"From the logs it looks like the job ran twice.",
	"From my side everything is ready.",
	"From 3f2a9c1d7e5b4a6f8e0d2c1b9a7f5e3d1c0b9a8f Mon Sep 17 00:00:00 2001",
	"From: the team, with thanks",
	"From here on we should use the new address.",
	"From Monday the office opens at eight.",
}

// gtFromLines start with ">From ": a quoted From line that an mboxrd reader
// must keep and an mboxo reader cannot tell from a quoted one.
var gtFromLines = []string{
	">From the minutes of the last meeting:",
	">From what you wrote earlier, this should work.",
	">>From the original report:",
}

// dotLines start with '.', which POP3 dot-stuffing must protect.
var dotLines = []string{
	".",
	"..",
	"...",
	".profile and .bashrc are both read on login",
	"...and that was the end of it.",
	". (see above)",
	".hidden/config",
}
