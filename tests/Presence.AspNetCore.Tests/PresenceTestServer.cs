using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Presence.AspNetCore.Tests;

/// <summary>An app with <c>MapMatrixPresence</c> on a <see cref="TestServer"/>, a real engine (or a given one) on a fake clock.</summary>
internal sealed class PresenceTestServer : IAsyncDisposable
{
    public static readonly ServerName Local = ServerName.Parse("example.org");
    public static readonly UserId Alice = UserId.Parse("@alice:example.org");
    public static readonly UserId Bob = UserId.Parse("@bob:example.org");
    public static readonly UserId Carol = UserId.Parse("@carol:example.org");

    private readonly WebApplication _app;

    private PresenceTestServer(WebApplication app, IPresenceEngine engine, FakeTimeProvider clock, List<ServerName> applied)
    {
        _app = app;
        Engine = engine;
        Clock = clock;
        Applied = applied;
        Client = app.GetTestClient();
    }

    public IPresenceEngine Engine { get; }

    public IServiceProvider Services => _app.Services;

    public FakeTimeProvider Clock { get; }

    public HttpClient Client { get; }

    public List<ServerName> Applied { get; }

    public InMemoryMembershipView Rooms { get; } = new();

    public static async Task<PresenceTestServer> StartAsync(Action<MatrixPresenceEndpointOptions>? configure = null, IPresenceEngine? engine = null)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var rooms = new InMemoryMembershipView();
        rooms.Join("!r:example.org", Alice);
        rooms.Join("!r:example.org", Bob);
        engine ??= PresenceEngine.Create(new PresenceOptions { ServerName = Local }, rooms, timeProvider: clock);
        await engine.StartAsync();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddSingleton(engine);
        builder.Services.AddSingleton<TimeProvider>(clock);
        new TestBuilder(builder.Services).UseMatrixAuthenticator<TestAuthenticator>();
        var app = builder.Build();
        var applied = new List<ServerName>();
        app.MapMatrixPresence(o =>
        {
            o.MapFederation = true;
            o.TransactionApplied = origin => { lock (applied) { applied.Add(origin); } };
            configure?.Invoke(o);
        });
        app.MapMatrixUnrecognized();
        await app.StartAsync();
        var server = new PresenceTestServer(app, engine, clock, applied);
        foreach (var user in new[] { Alice, Bob })
        {
            await engine.UserJoinedRoomAsync(user, "!r:example.org");
        }

        return server;
    }

    public static string StatusPath(UserId user) => $"/_matrix/client/v3/presence/{Uri.EscapeDataString(user.Value)}/status";

    public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? token, string? body = null, ServerName? origin = null, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (origin is { } from)
        {
            request.Headers.Add(TestAuthenticator.OriginHeader, from.Value);
        }

        request.Content = content ?? (body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"));
        using var response = await Client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text.Length == 0 ? "null" : text);
        return (response.StatusCode, doc.RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Engine.DisposeAsync();
    }

    private sealed class TestBuilder(IServiceCollection services) : IPresenceBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}

/// <summary>Tokens <c>token-{localpart}</c>; a server is whatever the test header names (the test stands for signature checking).</summary>
internal sealed class TestAuthenticator : IMatrixAuthenticator
{
    public const string OriginHeader = "Test-Origin";

    public ValueTask<MatrixClient?> AuthenticateClientAsync(HttpContext context, string accessToken, CancellationToken cancellationToken) =>
        ValueTask.FromResult(accessToken.StartsWith("token-", StringComparison.Ordinal)
            ? new MatrixClient(UserId.Create(accessToken["token-".Length..], PresenceTestServer.Local), "DEV")
            : null);

    public ValueTask<ServerName?> AuthenticateServerAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ServerName.TryParse(context.Request.Headers[OriginHeader].ToString(), out var origin) ? origin : (ServerName?)null);
}
