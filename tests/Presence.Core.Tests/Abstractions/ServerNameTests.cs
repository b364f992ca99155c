namespace Presence.Core.Tests.Abstractions;

public sealed class ServerNameTests
{
    [TestCase("example.org")]
    [TestCase("matrix.example.org:8448")]
    [TestCase("localhost")]
    [TestCase("1.2.3.4")]
    [TestCase("1.2.3.4:1")]
    [TestCase("[1234:5678::abcd]")]
    [TestCase("[::1]:65535")]
    [TestCase("[::ffff:1.2.3.4]")]
    public void Parse_Valid_RoundTrips(string text)
    {
        var name = ServerName.Parse(text);

        Assert.That(name.Value, Is.EqualTo(text));
        Assert.That(name.IsEmpty, Is.False);
    }

    [TestCase("", "must not be empty")]
    [TestCase(":8448", "no host")]
    [TestCase("exa mple.org", "' '")]
    [TestCase("example.org:", "1 to 5 digits")]
    [TestCase("example.org:123456", "1 to 5 digits")]
    [TestCase("example.org:65536", "above 65535")]
    [TestCase("example.org:8x", "'x'")]
    [TestCase("[::1", "never closes")]
    [TestCase("[::g]", "'g'")]
    [TestCase("[::1]x", "only ':port'")]
    [TestCase("[1]", "2 to 45")]
    public void TryParse_Invalid_SaysWhatIsWrong(string text, string expected)
    {
        Assert.That(ServerName.TryParse(text, out _, out var error), Is.False);
        Assert.That(error, Does.Contain(expected));
        Assert.Throws<FormatException>(() => ServerName.Parse(text));
    }

    [Test]
    public void Parse_LongerThan255_IsRejected()
    {
        Assert.That(ServerName.TryParse(new string('a', 255), out _), Is.True);
        Assert.That(ServerName.TryParse(new string('a', 256), out _, out var error), Is.False);
        Assert.That(error, Does.Contain("at most 255"));
    }

    [Test]
    public void Equality_IsOrdinal()
    {
        var name = ServerName.Parse("example.org");
        Assert.That(name, Is.EqualTo(ServerName.Parse(string.Concat("example", ".org"))));
        Assert.That(ServerName.Parse("example.org") != ServerName.Parse("Example.org"), Is.True);
    }
}
