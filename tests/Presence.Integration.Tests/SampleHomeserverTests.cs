using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Presence.Sample;

namespace Presence.Integration.Tests;

/// <summary>Two sample homeservers on loopback, over real HTTP, on one fake clock.</summary>
[CancelAfter(30_000)]
public sealed class SampleHomeserverTests
{
    private static readonly ServerName A = ServerName.Parse("a.localhost");
    private static readonly ServerName B = ServerName.Parse("b.localhost");
    private static readonly UserId Alice = UserId.Parse("@alice:a.localhost");
    private static readonly UserId Bob = UserId.Parse("@bob:b.localhost");

    private FakeTimeProvider _clock = null!;
    private SampleHomeserver _a = null!;
    private SampleHomeserver _b = null!;
    private HttpClient _http = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var rooms = new InMemoryMembershipView();
        _a = await SampleHomeserver.StartAsync(new SampleHomeserverOptions { ServerName = A, Users = ["alice", "carol"], Rooms = rooms, Time = _clock });
        _b = await SampleHomeserver.StartAsync(new SampleHomeserverOptions { ServerName = B, Users = ["bob"], Rooms = rooms, Time = _clock });
        _a.AddPeer(B, _b.BaseAddress);
        _b.AddPeer(A, _a.BaseAddress);
        foreach (var user in new[] { Alice, Bob })
        {
            rooms.Join("!r:a.localhost", user);
            foreach (var server in new[] { _a, _b })
            {
                await server.Engine.UserJoinedRoomAsync(user, "!r:a.localhost");
            }
        }

        _http = new HttpClient();
    }

    [TearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, SampleHomeserver server, string path, string? token, string? body = null, ServerName? origin = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(server.BaseAddress, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (origin is { } from)
        {
            request.Headers.TryAddWithoutValidation("Authorization", $"X-Matrix origin=\"{from}\",destination=\"{server.Name}\",key=\"ed25519:sample\",sig=\"unsigned\"");
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        return (response.StatusCode, doc.RootElement.Clone());
    }

    private static string Status(UserId user) => $"/_matrix/client/v3/presence/{Uri.EscapeDataString(user.Value)}/status";

    [Test]
    public async Task StatusSetOnOneServer_ReachesTheOtherOverHttp()
    {
        var put = await SendAsync(HttpMethod.Put, _a, Status(Alice), "token-alice", """{"presence":"online","status_msg":"over http"}""");
        _clock.Advance(TimeSpan.FromSeconds(10)); // the batch window to b.localhost
        await _b.WaitForTransactionsAsync(1, CancellationToken.None);

        var get = await SendAsync(HttpMethod.Get, _b, Status(Alice), "token-bob");

        Assert.That(put.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(get.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(get.Body.GetProperty("presence").GetString(), Is.EqualTo("online"));
        Assert.That(get.Body.GetProperty("status_msg").GetString(), Is.EqualTo("over http"));
        Assert.That(_a.Transport.Messages, Is.EqualTo(1));
        Assert.That(_a.Transport.Bytes, Is.GreaterThan(0));
    }

    [Test]
    public async Task ClientErrors_FollowTheSpecification()
    {
        var missing = await SendAsync(HttpMethod.Get, _a, Status(Alice), null);
        var someoneElse = await SendAsync(HttpMethod.Put, _a, Status(Alice), "token-carol", """{"presence":"online"}""");
        var badJson = await SendAsync(HttpMethod.Put, _a, Status(Alice), "token-alice", """{"presence":""");
        var badState = await SendAsync(HttpMethod.Put, _a, Status(Alice), "token-alice", """{"presence":"dancing"}""");
        var notFound = await SendAsync(HttpMethod.Get, _a, Status(Alice), "token-alice");
        var notAllowed = await SendAsync(HttpMethod.Get, _a, Status(UserId.Parse("@carol:a.localhost")), "token-alice");
        var badUser = await SendAsync(HttpMethod.Get, _a, "/_matrix/client/v3/presence/nobody/status", "token-alice");

        Assert.Multiple(() =>
        {
            Assert.That((missing.Status, missing.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.Unauthorized, "M_MISSING_TOKEN")));
            Assert.That((someoneElse.Status, someoneElse.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.Forbidden, "M_FORBIDDEN")));
            Assert.That((badJson.Status, badJson.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "M_BAD_JSON")));
            Assert.That((badState.Status, badState.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "M_INVALID_PARAM")));
            Assert.That((notFound.Status, notFound.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.NotFound, "M_NOT_FOUND")), "alice has never been seen: unknown");
            Assert.That((notAllowed.Status, notAllowed.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.Forbidden, "M_FORBIDDEN")), "carol shares no room with alice");
            Assert.That((badUser.Status, badUser.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "M_INVALID_PARAM")));
        });
    }

    [Test]
    public async Task TooManyStatusWrites_Get429WithRetryAfter()
    {
        for (int i = 0; i < 5; i++)
        {
            Assert.That((await SendAsync(HttpMethod.Put, _a, Status(Alice), "token-alice", """{"presence":"online"}""")).Status, Is.EqualTo(HttpStatusCode.OK));
        }

        var limited = await SendAsync(HttpMethod.Put, _a, Status(Alice), "token-alice", """{"presence":"online"}""");

        Assert.That(limited.Status, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(limited.Body.GetProperty("errcode").GetString(), Is.EqualTo("M_LIMIT_EXCEEDED"));
        Assert.That(limited.Body.GetProperty("retry_after_ms").GetInt64(), Is.EqualTo(10_000));
    }

    [Test]
    public async Task ReplayedTransaction_ChangesNothing()
    {
        string Txn(string status) => MatrixPresenceCodec.WriteTransaction(B, _clock.GetUtcNow(), new PresenceMessage(push: [new PresenceSnapshot(Bob, PresenceState.Online, status, _clock.GetUtcNow(), true, DeviceKinds.None)]));
        string first = Txn("v1");
        string second = Txn("v2");

        var r1 = await SendAsync(HttpMethod.Put, _a, "/_matrix/federation/v1/send/txn1", null, first, B);
        await SendAsync(HttpMethod.Put, _a, "/_matrix/federation/v1/send/txn2", null, second, B);
        var replay = await SendAsync(HttpMethod.Put, _a, "/_matrix/federation/v1/send/txn1", null, first, B);
        var bob = await SendAsync(HttpMethod.Get, _a, Status(Bob), "token-alice");

        Assert.That(r1.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(replay.Status, Is.EqualTo(HttpStatusCode.OK), "a replay is acknowledged");
        Assert.That(bob.Body.GetProperty("status_msg").GetString(), Is.EqualTo("v2"), "and not applied again");
        Assert.That(_a.TransactionsReceived, Is.EqualTo(2));
    }

    [Test]
    public async Task Sync_CarriesPresenceEvents_AndHonoursSetPresence()
    {
        await SendAsync(HttpMethod.Put, _a, Status(Alice), "token-alice", """{"presence":"online","status_msg":"syncing"}""");

        var first = await SendAsync(HttpMethod.Get, _a, "/_matrix/client/v3/sync?timeout=0&set_presence=unavailable", "token-alice");
        var me = await SendAsync(HttpMethod.Get, _a, Status(Alice), "token-alice");

        Assert.That(first.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(first.Body.GetProperty("next_batch").GetString(), Is.Not.Empty);
        var events = first.Body.GetProperty("presence").GetProperty("events").EnumerateArray().ToList();
        Assert.That(events.Select(e => e.GetProperty("type").GetString()), Is.All.EqualTo("m.presence"));
        Assert.That(events.Select(e => e.GetProperty("sender").GetString()), Does.Contain("@alice:a.localhost"));
        Assert.That(me.Body.GetProperty("presence").GetString(), Is.EqualTo("unavailable"), "set_presence on /sync sets the device's state");
        Assert.That(me.Body.GetProperty("status_msg").GetString(), Is.EqualTo("syncing"), "and keeps the status message");
    }

    [Test]
    public async Task PresenceListEndpoints_InviteAnswerAndRead_AcrossServers()
    {
        var invite = await SendAsync(HttpMethod.Post, _a, $"/_matrix/client/v3/presence/list/{Uri.EscapeDataString(Alice.Value)}", "token-alice", """{"invite":["@bob:b.localhost"]}""");
        await _b.WaitForTransactionsAsync(1, CancellationToken.None);
        var requests = await SendAsync(HttpMethod.Get, _b, "/_matrix/client/unstable/io.presence_core/presence/requests", "token-bob");
        await SendAsync(HttpMethod.Put, _b, Status(Bob), "token-bob", """{"presence":"online","status_msg":"listed"}""");
        var answer = await SendAsync(HttpMethod.Post, _b, $"/_matrix/client/unstable/io.presence_core/presence/requests/{Uri.EscapeDataString(Alice.Value)}", "token-bob", """{"allow":true}""");
        await _a.WaitForTransactionsAsync(1, CancellationToken.None);
        var list = await SendAsync(HttpMethod.Get, _a, $"/_matrix/client/v3/presence/list/{Uri.EscapeDataString(Alice.Value)}", "token-alice");

        Assert.That(invite.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(requests.Body.GetProperty("requests").EnumerateArray().Select(r => r.GetProperty("observer_user").GetString()), Is.EqualTo(new[] { "@alice:a.localhost" }));
        Assert.That(answer.Status, Is.EqualTo(HttpStatusCode.OK));
        var entry = list.Body.EnumerateArray().Single();
        Assert.That(entry.GetProperty("observed_user").GetString(), Is.EqualTo("@bob:b.localhost"));
        Assert.That(entry.GetProperty("state").GetString(), Is.EqualTo("allowed"));
        Assert.That(entry.GetProperty("presence").GetProperty("content").GetProperty("status_msg").GetString(), Is.EqualTo("listed"), "the accept carried bob's presence");
    }

    [Test]
    public async Task Sync_ResponseLostInTransit_IsSentAgainFromTheOldToken()
    {
        var initial = await SendAsync(HttpMethod.Get, _a, "/_matrix/client/v3/sync?timeout=0", "token-carol");
        string since = Uri.EscapeDataString(initial.Body.GetProperty("next_batch").GetString()!);
        await SendAsync(HttpMethod.Put, _a, Status(Alice), "token-alice", """{"presence":"online","status_msg":"lost?"}""");
        var carolCantSee = await SendAsync(HttpMethod.Get, _a, $"/_matrix/client/v3/sync?timeout=0&since={since}", "token-carol");
        var bobInitial = await SendAsync(HttpMethod.Get, _b, "/_matrix/client/v3/sync?timeout=0", "token-bob");
        string bobSince = Uri.EscapeDataString(bobInitial.Body.GetProperty("next_batch").GetString()!);
        await SendAsync(HttpMethod.Put, _b, Status(Bob), "token-bob", """{"presence":"unavailable","status_msg":"first"}""");

        var lost = await SendAsync(HttpMethod.Get, _b, $"/_matrix/client/v3/sync?timeout=0&since={bobSince}", "token-bob");
        var again = await SendAsync(HttpMethod.Get, _b, $"/_matrix/client/v3/sync?timeout=0&since={bobSince}", "token-bob");

        static IEnumerable<string?> Statuses(JsonElement body) => body.GetProperty("presence").GetProperty("events").EnumerateArray().Select(e => e.GetProperty("content").TryGetProperty("status_msg", out var m) ? m.GetString() : null);
        Assert.That(carolCantSee.Body.GetProperty("presence").GetProperty("events").EnumerateArray().Select(e => e.GetProperty("sender").GetString()), Does.Not.Contain(Alice.Value), "carol shares no room with alice");
        Assert.That(Statuses(lost.Body), Does.Contain("first"));
        Assert.That(Statuses(again.Body), Is.EqualTo(Statuses(lost.Body)), "the same since gets the same changes again");
    }

    [Test]
    public async Task UnknownEndpoint_Is404Unrecognized_AndJsSdkStartupEndpointsAnswer()
    {
        var unknown = await SendAsync(HttpMethod.Get, _a, "/_matrix/client/v3/room_keys/version", "token-alice");
        var pushRules = await SendAsync(HttpMethod.Get, _a, "/_matrix/client/v3/pushrules/", "token-alice");
        var capabilities = await SendAsync(HttpMethod.Get, _a, "/_matrix/client/v3/capabilities", "token-alice");
        var filter = await SendAsync(HttpMethod.Post, _a, $"/_matrix/client/v3/user/{Uri.EscapeDataString(Alice.Value)}/filter", "token-alice", """{"room":{"timeline":{"limit":1}}}""");
        var read = await SendAsync(HttpMethod.Get, _a, $"/_matrix/client/v3/user/{Uri.EscapeDataString(Alice.Value)}/filter/{filter.Body.GetProperty("filter_id").GetString()}", "token-alice");

        Assert.That((unknown.Status, unknown.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.NotFound, "M_UNRECOGNIZED")));
        Assert.That(pushRules.Body.GetProperty("global").GetProperty("override").GetArrayLength(), Is.Zero);
        Assert.That(capabilities.Body.TryGetProperty("capabilities", out _), Is.True);
        Assert.That(read.Body.GetProperty("room").GetProperty("timeline").GetProperty("limit").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task PresenceListPost_OneBadEntry_Is400AndKeepsNothing()
    {
        var post = await SendAsync(HttpMethod.Post, _a, $"/_matrix/client/v3/presence/list/{Uri.EscapeDataString(Alice.Value)}", "token-alice", """{"invite":["@bob:b.localhost","not a user"]}""");
        var list = await SendAsync(HttpMethod.Get, _a, $"/_matrix/client/v3/presence/list/{Uri.EscapeDataString(Alice.Value)}", "token-alice");

        Assert.That((post.Status, post.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "M_INVALID_PARAM")));
        Assert.That(list.Body.GetArrayLength(), Is.Zero, "the good entry was not kept either");
    }

    [Test]
    public async Task OversizedBody_Is413()
    {
        var big = await SendAsync(HttpMethod.Post, _a, $"/_matrix/client/v3/presence/list/{Uri.EscapeDataString(Alice.Value)}", "token-alice", "{\"invite\":[\"" + new string('x', 2 << 20) + "\"]}");

        Assert.That((big.Status, big.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.RequestEntityTooLarge, "M_TOO_LARGE")));
    }
}
