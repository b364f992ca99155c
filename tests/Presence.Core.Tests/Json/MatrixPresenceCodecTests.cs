using System.Text;
using System.Text.Json;

namespace Presence.Core.Tests.Json;

public sealed class MatrixPresenceCodecTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly UserId Alice = UserId.Parse("@alice:a.example");
    private static readonly UserId Bob = UserId.Parse("@bob:b.example");
    private static readonly ServerName A = ServerName.Parse("a.example");

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static PresenceSnapshot Online(UserId user, string? status = null, bool active = true)
        => new(user, PresenceState.Online, status, Now.AddSeconds(-5), active, DeviceKinds.Standard);

    [Test]
    public void ClientEvent_HasTheSpecifiedShape_AndOmitsWhatIsNotKnown()
    {
        var online = JsonDocument.Parse(MatrixPresenceCodec.WriteClientEvent(Online(Alice, "lunch"), Now)).RootElement;
        var offline = JsonDocument.Parse(MatrixPresenceCodec.WriteClientEvent(new PresenceSnapshot(Alice, PresenceState.Offline, null, null, true, DeviceKinds.None), Now)).RootElement;

        Assert.Multiple(() =>
        {
            Assert.That(online.GetProperty("type").GetString(), Is.EqualTo("m.presence"));
            Assert.That(online.GetProperty("sender").GetString(), Is.EqualTo("@alice:a.example"));
            var content = online.GetProperty("content");
            Assert.That(content.GetProperty("presence").GetString(), Is.EqualTo("online"));
            Assert.That(content.GetProperty("last_active_ago").GetInt64(), Is.EqualTo(5000));
            Assert.That(content.GetProperty("currently_active").GetBoolean(), Is.True);
            Assert.That(content.GetProperty("status_msg").GetString(), Is.EqualTo("lunch"));
            var bare = offline.GetProperty("content");
            Assert.That(bare.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "presence" }), "no last_active_ago when unknown, currently_active only for online, status_msg only when set");
        });
    }

    [Test]
    public void Unknown_CannotBeWritten()
        => Assert.Throws<ArgumentException>(() => MatrixPresenceCodec.WriteClientEvent(PresenceSnapshot.Unknown(Alice), Now));

    [Test]
    public void StatusRequest_ReadsStateAndStatus_EmptyStatusIsNone()
    {
        Assert.That(MatrixPresenceCodec.ReadStatusRequest(Utf8("""{"presence":"unavailable","status_msg":"brb","extra":1}""")), Is.EqualTo((PresenceState.Unavailable, (string?)"brb")));
        Assert.That(MatrixPresenceCodec.ReadStatusRequest(Utf8("""{"presence":"online","status_msg":""}""")), Is.EqualTo((PresenceState.Online, (string?)null)));
        Assert.That(MatrixPresenceCodec.ReadStatusRequest(Utf8("""{"presence":"org.matrix.msc3026.busy"}""")).State, Is.EqualTo(PresenceState.Busy));
    }

    [TestCase("""{"status_msg":"x"}""", "presence: required")]
    [TestCase("""{"presence":"away"}""", "not a presence state")]
    [TestCase("""{"presence":42}""", "not valid")]
    [TestCase("""{"presence":"online","status_msg":["x"]}""", "not valid")]
    [TestCase("""[1,2]""", "not valid")]
    [TestCase("""null""", "not null")]
    [TestCase("""{"presence":"online" """, "not valid")]
    public void StatusRequest_BadBodies_GetPreciseErrors(string body, string expected)
    {
        var error = Assert.Throws<PresenceFormatException>(() => MatrixPresenceCodec.ReadStatusRequest(Utf8(body)));
        Assert.That(error!.Message, Does.Contain(expected));
    }

    [Test]
    public void Limits_OversizedStringsDeepNestingAndHugePayloads_AreRejected()
    {
        Assert.Multiple(() =>
        {
            var longStatus = $$"""{"presence":"online","status_msg":"{{new string('x', MatrixPresenceCodec.MaxStatusMessageLength + 1)}}"}""";
            Assert.That(() => MatrixPresenceCodec.ReadStatusRequest(Utf8(longStatus)), Throws.TypeOf<PresenceFormatException>().With.Message.Contains("at most"));
            string deep = string.Concat(Enumerable.Repeat("""{"a":""", 40)) + "1" + new string('}', 40);
            Assert.That(() => MatrixPresenceCodec.ReadStatusRequest(Utf8(deep)), Throws.TypeOf<PresenceFormatException>().With.Message.Contains("depth"));
            // The size limit applies to presence content (a whole transaction may be larger: its room events are the host's).
            string hugeContent = "{\"origin\":\"b.example\",\"edus\":[{\"edu_type\":\"m.presence\",\"content\":{\"push\":[],\"x\":\"" + new string('x', MatrixPresenceCodec.MaxDocumentBytes) + "\"}}]}";
            Assert.That(() => MatrixPresenceCodec.ReadTransaction(Utf8(hugeContent), Now), Throws.TypeOf<PresenceFormatException>().With.Message.Contains("bytes"));
            string polls = string.Join(",", Enumerable.Repeat("\"@a:a.example\"", 1001));
            string manyPolls = "{\"origin\":\"b.example\",\"origin_server_ts\":1,\"pdus\":[],\"edus\":[{\"edu_type\":\"m.presence\",\"content\":{\"push\":[],\"poll\":[" + polls + "]}}]}";
            Assert.That(() => MatrixPresenceCodec.ReadTransaction(Utf8(manyPolls), Now), Throws.TypeOf<PresenceFormatException>().With.Message.Contains("1001 items"));
        });
    }

    [Test]
    public void Transaction_RoundTrips_EveryPartOfAMessage()
    {
        var message = new PresenceMessage(
            push: [Online(Alice, "hi"), new PresenceSnapshot(UserId.Parse("@carol:a.example"), PresenceState.Offline, null, null, false, DeviceKinds.None)],
            poll: [Bob],
            unpoll: [UserId.Parse("@dave:b.example")],
            isReminder: true,
            promiseLifetime: TimeSpan.FromHours(2),
            listRequests: [new PresenceListRequest(PresenceListAction.Invite, Alice, Bob), new PresenceListRequest(PresenceListAction.Deny, Alice, Bob)]);

        string json = MatrixPresenceCodec.WriteTransaction(A, Now, message);
        var read = MatrixPresenceCodec.ReadTransaction(Utf8(json), Now);

        Assert.Multiple(() =>
        {
            Assert.That(read.Origin, Is.EqualTo(A));
            Assert.That(read.Problems, Is.Empty);
            Assert.That(read.Message.Push.Select(p => (p.User, p.State, p.StatusMessage, p.LastActive, p.CurrentlyActive)),
                Is.EqualTo(new[] { (Alice, PresenceState.Online, (string?)"hi", (DateTimeOffset?)Now.AddSeconds(-5), true), (UserId.Parse("@carol:a.example"), PresenceState.Offline, (string?)null, (DateTimeOffset?)null, false) }));
            Assert.That(read.Message.Poll, Is.EqualTo(new[] { Bob }));
            Assert.That(read.Message.Unpoll, Is.EqualTo(new[] { UserId.Parse("@dave:b.example") }));
            Assert.That(read.Message.IsReminder, Is.True);
            Assert.That(read.Message.PromiseLifetime, Is.EqualTo(TimeSpan.FromHours(2)));
            Assert.That(read.Message.ListRequests.Select(r => (r.Action, r.Observer, r.Observed)), Is.EqualTo(new[] { (PresenceListAction.Invite, Alice, Bob), (PresenceListAction.Deny, Alice, Bob) }));
        });
    }

    [Test]
    public void Transaction_IsTolerantWhereRealServersDiffer()
    {
        string json = """
            {"origin":"b.example","origin_server_ts":1,"pdus":[{"type":"m.room.message"}],"unknown":{"deep":[1,2]},
             "edus":[
               {"edu_type":"m.typing","content":{"room_id":"!r:b.example","user_id":"@x:b.example","typing":true}},
               {"edu_type":"m.presence","content":{"push":[
                  {"user_id":"@bob:b.example","presence":"online","currently_active":true,"x.vendor":"ignored"},
                  {"user_id":"@sam:b.example","presence":"org.matrix.msc3026.busy","last_active_ago":1000}]}}]}
            """;

        var read = MatrixPresenceCodec.ReadTransaction(Utf8(json), Now);

        Assert.That(read.Problems, Is.Empty);
        Assert.That(read.Message.Push.Select(p => (p.User.Value, p.State, p.LastActive)), Is.EqualTo(new[] { ("@bob:b.example", PresenceState.Online, (DateTimeOffset?)null), ("@sam:b.example", PresenceState.Busy, (DateTimeOffset?)Now.AddSeconds(-1)) }));
    }

    [Test]
    public void Transaction_BadEntriesAreLeftOutAndDescribed_TheRestIsRead()
    {
        string json = """
            {"origin":"b.example","origin_server_ts":1,"pdus":[],"edus":[{"edu_type":"m.presence","content":{
              "push":[{"user_id":"not-a-user","presence":"online"},{"user_id":"@bob:b.example","presence":"dancing"},
                      {"user_id":"@ok:b.example","presence":"unavailable","last_active_ago":-5},{"user_id":"@fine:b.example","presence":"offline"}],
              "poll":["@a:a.example","bad"]}},
              {"edu_type":"m.presence_invite","content":{"observer_user":"@x:b.example"}}]}
            """;

        var read = MatrixPresenceCodec.ReadTransaction(Utf8(json), Now);

        Assert.That(read.Message.Push.Select(p => p.User.Value), Is.EqualTo(new[] { "@fine:b.example" }));
        Assert.That(read.Message.Poll.Select(u => u.Value), Is.EqualTo(new[] { "@a:a.example" }));
        Assert.That(read.Problems, Has.Count.EqualTo(5));
        Assert.That(read.Problems[0], Does.StartWith("edus[0].content.push[0].user_id:"));
    }

    [Test]
    public void ClientEvent_ReadsLegacyUserIdInsideContent()
    {
        var read = MatrixPresenceCodec.ReadClientEvent(Utf8("""{"type":"m.presence","content":{"user_id":"@old:b.example","presence":"unavailable"}}"""), Now);

        Assert.That(read.User.Value, Is.EqualTo("@old:b.example"));
        Assert.That(read.State, Is.EqualTo(PresenceState.Unavailable));
        Assert.That(read.LastActive, Is.Null);
    }

    [Test]
    public void Errors_HaveTheSpecifiedShape()
    {
        var error = JsonDocument.Parse(MatrixPresenceCodec.WriteError("M_FORBIDDEN", "You cannot see this user's presence.")).RootElement;
        var limited = JsonDocument.Parse(MatrixPresenceCodec.WriteRateLimited("Too many requests", TimeSpan.FromSeconds(2))).RootElement;

        Assert.That(error.GetProperty("errcode").GetString(), Is.EqualTo("M_FORBIDDEN"));
        Assert.That(limited.GetProperty("errcode").GetString(), Is.EqualTo("M_LIMIT_EXCEEDED"));
        Assert.That(limited.GetProperty("retry_after_ms").GetInt64(), Is.EqualTo(2000));
    }

    [Test]
    public void Fuzz_RandomAndMutatedDocuments_ThrowNothingButPresenceFormatException()
    {
        var random = new Random(20261121);
        var seeds = new[]
        {
            MatrixPresenceCodec.WriteTransaction(A, Now, new PresenceMessage(push: [Online(Alice, "x")], poll: [Bob], listRequests: [new PresenceListRequest(PresenceListAction.Accept, Bob, Alice)])),
            """{"presence":"online","status_msg":"s"}""",
            """{"type":"m.presence","sender":"@a:b.c","content":{"presence":"offline","last_active_ago":5}}""",
        };
        const string alphabet = "{}[]\":,0123456789-.eE truefalsnul\\u@:abcxyz\u00e9\u0000";
        int formatErrors = 0;
        for (int i = 0; i < 20_000; i++)
        {
            var bytes = new List<byte>(Encoding.UTF8.GetBytes(seeds[i % seeds.Length]));
            int mutations = 1 + random.Next(6);
            for (int m = 0; m < mutations && bytes.Count > 0; m++)
            {
                int at = random.Next(bytes.Count);
                switch (random.Next(4))
                {
                    case 0: bytes[at] = (byte)random.Next(256); break;
                    case 1: bytes.InsertRange(at, Encoding.UTF8.GetBytes(alphabet[random.Next(alphabet.Length)].ToString())); break;
                    case 2: bytes.RemoveAt(at); break;
                    default: bytes.RemoveRange(at, bytes.Count - at); break;
                }
            }

            var doc = bytes.ToArray();
            foreach (var read in new Action[]
            {
                () => MatrixPresenceCodec.ReadTransaction(doc, Now),
                () => MatrixPresenceCodec.ReadStatusRequest(doc),
                () => MatrixPresenceCodec.ReadClientEvent(doc, Now),
            })
            {
                try
                {
                    read();
                }
                catch (PresenceFormatException)
                {
                    formatErrors++;
                }
            }
        }

        Assert.That(formatErrors, Is.GreaterThan(20_000), "the mutations do break documents, and only the documented exception comes out");
    }
}
