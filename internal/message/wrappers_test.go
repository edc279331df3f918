package message

import (
	"strings"
	"testing"
)

// TestInnerURLs: the links inside other vendors' wrappers, from the
// examples their documentation and public decoders give, wrappers inside
// wrappers, and links that only look wrapped.
func TestInnerURLs(t *testing.T) {
	for _, c := range []struct{ link, want string }{
		{"https://urldefense.proofpoint.com/v2/url?u=http-3A__flug.de&d=QvLrbZ&c=9bHx&r=8uoI&m=FhF8&s=p8sG&e=", "http://flug.de/"},
		{"https://urldefense.proofpoint.com/v2/url?u=https-3A__media.mnn.com_assets_images_2016_06_jupiter-2Dnasa.jpg.638x0-5Fq80-5Fcrop-2Dsmart.jpg&d=DwMBaQ&c=Vxt5&e=",
			"https://media.mnn.com/assets/images/2016/06/jupiter-nasa.jpg.638x0_q80_crop-smart.jpg"},
		{"https://urldefense.proofpoint.com/v1/url?u=http://www.bouncycastle.org/&k=oIvR%0A&s=d358", "http://www.bouncycastle.org/"},
		{"https://urldefense.com/v3/__https://google.com:443/search?q=a*test&gs=ps__;Kw!-612Flbf0JvQ3kNJkRi5Jg!Ue6tQudNKaShHg93$",
			"https://google.com/search?q=a+test&gs=ps"},
		{"https://urldefense.com/v3/__https://x.test/a**Bb__;JiYm!!abc$", "https://x.test/a&&&b"},
		{"https://apac01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.dropbox.com%2Fl%2FMsV4Fl%2Freport_abuse&data=02%7C01&sdata=MYXF&reserved=0",
			"https://www.dropbox.com/l/MsV4Fl/report_abuse"},
		{"https://protect-eu.mimecast.com/s/AbCdEfGh?domain=evil.example", "http://evil.example/"},
		{"https://ctp.trendmicro.com/wis/clicktime/v2/clickthrough?url=https%3A%2F%2Femea01.safelinks.protection.outlook.com%2F%3Furl%3Dhttps%253A%252F%252Fearlyyears.register-me.uk%252F%26data%3D02&uuid=2dd8&auth=31bb",
			"https://emea01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fearlyyears.register-me.uk%2F&data=02 https://earlyyears.register-me.uk/"},
		{"https://safelinks.protection.outlook.com.evil.test/?url=http://x.test/", ""},
		{"https://urldefense.com/v3/__https://x.test/a*__;!!abc$", ""}, // a * with no byte for it
		{"https://example.com/?url=http://x.test/", ""},
	} {
		if got := strings.Join(InnerURLs(c.link), " "); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.link, got, c.want)
		}
	}
}
