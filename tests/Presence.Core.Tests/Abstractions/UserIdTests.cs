namespace Presence.Core.Tests.Abstractions;

public sealed class UserIdTests
{
    [TestCase("@alice:example.org", "alice", "example.org")]
    [TestCase("@a.b_c=d-e/f+g:matrix.org", "a.b_c=d-e/f+g", "matrix.org")]
    [TestCase("@bob:127.0.0.1:8448", "bob", "127.0.0.1:8448")]
    [TestCase("@carol:[::1]:8448", "carol", "[::1]:8448")]
    [TestCase("@Dave!#$%&'*;<>?[]^`{|}~:example.org", "Dave!#$%&'*;<>?[]^`{|}~", "example.org")]
    public void Parse_ValidIds_SplitsLocalpartAndServer(string text, string localpart, string server)
    {
        var id = UserId.Parse(text);

        Assert.Multiple(() =>
        {
            Assert.That(id.Value, Is.EqualTo(text));
            Assert.That(id.Localpart, Is.EqualTo(localpart));
            Assert.That(id.Server, Is.EqualTo(ServerName.Parse(server)));
            Assert.That(id.IsOn(ServerName.Parse(server)), Is.True);
            Assert.That(id.ToString(), Is.EqualTo(text));
        });
    }

    [TestCase("@alice:example.org", false)]
    [TestCase("@Alice:example.org", true)]
    [TestCase("@al!ce:example.org", true)]
    public void IsHistorical_TellsTheWiderGrammarApart(string text, bool historical)
        => Assert.That(UserId.Parse(text).IsHistorical, Is.EqualTo(historical));

    [TestCase("", "empty")]
    [TestCase("alice:example.org", "must start with '@'")]
    [TestCase("@alice", "no ':'")]
    [TestCase("@:example.org", "empty localpart")]
    [TestCase("@al ice:example.org", "U+0020")]
    [TestCase("@alicé:example.org", "U+00E9")]
    [TestCase("@alice:", "invalid server name")]
    [TestCase("@alice:exa_mple.org", "'_'")]
    [TestCase("@alice:example.org:99999", "above 65535")]
    public void TryParse_InvalidIds_SayWhatIsWrong(string text, string expected)
    {
        Assert.That(UserId.TryParse(text, out var id, out var error), Is.False);
        Assert.That(error, Does.Contain(expected));
        Assert.That(id.IsEmpty, Is.True);
        var thrown = Assert.Throws<FormatException>(() => UserId.Parse(text));
        Assert.That(thrown!.Message, Is.EqualTo(error));
    }

    [Test]
    public void Parse_LengthLimit_Is255Characters()
    {
        string server = ":example.org";
        string atLimit = "@" + new string('a', 255 - 1 - server.Length) + server;
        string over = "@a" + atLimit[1..];

        Assert.That(UserId.TryParse(atLimit, out _), Is.True);
        Assert.That(UserId.TryParse(over, out _, out var error), Is.False);
        Assert.That(error, Does.Contain("at most 255"));
    }

    [Test]
    public void Parse_Null_ThrowsArgumentNull()
    {
        Assert.Throws<ArgumentNullException>(() => UserId.Parse(null!));
        Assert.That(UserId.TryParse(null, out _), Is.False);
    }

    [Test]
    public void Equality_IsOrdinal()
    {
        var a = UserId.Parse("@alice:example.org");

        Assert.Multiple(() =>
        {
            Assert.That(a, Is.EqualTo(UserId.Parse("@alice:example.org")));
            Assert.That(a == UserId.Parse("@Alice:example.org"), Is.False);
            Assert.That(a.GetHashCode(), Is.EqualTo(UserId.Parse("@alice:example.org").GetHashCode()));
            Assert.That(a < UserId.Parse("@bob:example.org"), Is.True);
            Assert.That(default(UserId).IsEmpty, Is.True);
            Assert.That(default(UserId).Value, Is.Empty);
        });
    }

    [Test]
    public void Create_BuildsFromParts_AndValidates()
    {
        var server = ServerName.Parse("example.org");

        Assert.That(UserId.Create("alice", server).Value, Is.EqualTo("@alice:example.org"));
        Assert.Throws<ArgumentException>(() => UserId.Create("al:ice", server));
        Assert.Throws<ArgumentException>(() => UserId.Create("alice", default));
    }

    [Test]
    public void IsOn_OtherServerOrPrefix_IsFalse()
    {
        var id = UserId.Parse("@alice:example.org");

        Assert.That(id.IsOn(ServerName.Parse("example.org:8448")), Is.False);
        Assert.That(id.IsOn(ServerName.Parse("example.or")), Is.False);
        Assert.That(id.IsOn(default), Is.False);
    }
}
