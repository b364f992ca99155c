using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Presence.Sample;

/// <summary>What one sample homeserver is.</summary>
public sealed class SampleHomeserverOptions
{
    /// <summary>Gets or sets the server's name.</summary>
    public required ServerName ServerName { get; init; }

    /// <summary>Gets or sets the loopback port; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Gets the addresses of the other servers (may be filled in after start).</summary>
    public ConcurrentDictionary<ServerName, Uri> Peers { get; init; } = new();

    /// <summary>Gets or sets the local users' localparts; each gets the access token <c>token-{localpart}</c> and device <c>DEV-{localpart}</c>.</summary>
    public IReadOnlyList<string> Users { get; init; } = [];

    /// <summary>Gets or sets who shares rooms with whom (share one instance between servers of one test or demo).</summary>
    public InMemoryMembershipView Rooms { get; init; } = new();

    /// <summary>Gets or sets the clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Gets or sets further engine options.</summary>
    public Action<PresenceOptions>? Configure { get; init; }

    /// <summary>Gets or sets how many status changes a user may make per <see cref="RateWindow"/> before 429.</summary>
    public int StatusWritesPerWindow { get; init; } = 5;

    /// <summary>Gets or sets the rate-limit window.</summary>
    public TimeSpan RateWindow { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// A small homeserver that embeds the presence engine with Presence.AspNetCore: the client presence API and the federation
/// send endpoint come from <c>MapMatrixPresence</c>, presence in a long-polling <c>/sync</c> from <see cref="MatrixPresenceSync"/>;
/// the sample adds the presence-list API, the few endpoints matrix-js-sdk needs to start, and an HTTP transport to its peers.
/// Not a real homeserver: no rooms, no signing, tokens are <c>token-{localpart}</c>.
/// </summary>
public sealed class SampleHomeserver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SampleHomeserverOptions _options;
    private readonly SampleAuthenticator _auth;
    private readonly MatrixPresenceSync _sync;
    private readonly ConcurrentDictionary<string, string> _filters = new(StringComparer.Ordinal);
    private readonly HttpClient _http;
    private int _transactions;
    private TaskCompletionSource _transactionArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SampleHomeserver(WebApplication app, SampleHomeserverOptions options, IPresenceEngine engine, HttpPresenceTransport transport, HttpClient http, SampleAuthenticator auth)
    {
        _http = http;
        _app = app;
        _options = options;
        _auth = auth;
        Engine = engine;
        Transport = transport;
        _sync = new MatrixPresenceSync(engine, options.Time);
    }

    /// <summary>Gets the server's name.</summary>
    public ServerName Name => _options.ServerName;

    /// <summary>Gets the server's base address.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Gets the engine.</summary>
    public IPresenceEngine Engine { get; }

    /// <summary>Gets the outbound transport (message and byte counts).</summary>
    public HttpPresenceTransport Transport { get; }

    /// <summary>Gets how many federation transactions were applied (replays not counted).</summary>
    public int TransactionsReceived => Volatile.Read(ref _transactions);

    /// <summary>The access token of a local user of the sample.</summary>
    /// <param name="localpart">The user's localpart.</param>
    /// <returns>The token.</returns>
    public static string TokenFor(string localpart) => "token-" + localpart;

    /// <summary>Starts a server on 127.0.0.1.</summary>
    /// <param name="options">What the server is.</param>
    /// <returns>The running server.</returns>
    public static async Task<SampleHomeserver> StartAsync(SampleHomeserverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var http = new HttpClient(); // owned by the server: disposed with it
        var transport = new HttpPresenceTransport(http, options.ServerName, server => options.Peers.TryGetValue(server, out var uri) ? uri : null, options.Time);
        var presenceOptions = new PresenceOptions { ServerName = options.ServerName };
        options.Configure?.Invoke(presenceOptions);
        var engine = PresenceEngine.Create(presenceOptions, options.Rooms, timeProvider: options.Time, transport: transport);
        await engine.StartAsync().ConfigureAwait(false);
        var auth = new SampleAuthenticator(options.ServerName, options.Users);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{options.Port}");
        builder.Services.AddSingleton(engine);
        builder.Services.AddSingleton<IMatrixAuthenticator>(auth);
        builder.Services.AddSingleton(options.Time);
        var app = builder.Build();
        var server = new SampleHomeserver(app, options, engine, transport, http, auth);
        server.Map(app);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return server;
    }

    /// <summary>Waits until the host is asked to stop (Ctrl+C, SIGTERM).</summary>
    /// <returns>A task that completes on shutdown.</returns>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    /// <summary>Tells the server where another server listens.</summary>
    /// <param name="server">The other server.</param>
    /// <param name="address">Its base address.</param>
    public void AddPeer(ServerName server, Uri address) => _options.Peers[server] = address;

    /// <summary>Waits until at least <paramref name="count"/> federation transactions were applied.</summary>
    /// <param name="count">How many in all.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>A task that completes when they have.</returns>
    public async Task WaitForTransactionsAsync(int count, CancellationToken cancellationToken)
    {
        while (TransactionsReceived < count)
        {
            await Volatile.Read(ref _transactionArrived).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await Engine.DisposeAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _http.Dispose();
    }

    private void Map(WebApplication app)
    {
        // The presence endpoints, federation included (the sample has no federation stack of its own).
        app.MapMatrixPresence(o =>
        {
            o.MapFederation = true;
            o.StatusWritesPerWindow = _options.StatusWritesPerWindow;
            o.StatusWriteWindow = _options.RateWindow;
            o.TransactionApplied = _ =>
            {
                Interlocked.Increment(ref _transactions);
                Interlocked.Exchange(ref _transactionArrived, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            };
        });

        // v3 is today's path; r0 is what older clients (matrix-nio among them) still call.
        foreach (string version in new[] { "v3", "r0" })
        {
            string client = $"/_matrix/client/{version}";
            app.MapGet($"{client}/sync", SyncAsync);
            app.MapGet($"{client}/presence/list/{{userId}}", GetListAsync);
            app.MapPost($"{client}/presence/list/{{userId}}", ChangeListAsync);

            // What matrix-js-sdk's startClient() asks before its first /sync: minimal valid answers.
            app.MapGet($"{client}/pushrules/", () => Json("""{"global":{"override":[],"content":[],"room":[],"sender":[],"underride":[]}}"""));
            app.MapGet($"{client}/capabilities", () => Json("""{"capabilities":{"m.change_password":{"enabled":false},"m.set_displayname":{"enabled":false},"m.set_avatar_url":{"enabled":false},"m.3pid_changes":{"enabled":false}}}"""));
            app.MapPost($"{client}/user/{{userId}}/filter", CreateFilterAsync);
            app.MapGet($"{client}/user/{{userId}}/filter/{{filterId}}", GetFilterAsync);
        }

        app.MapGet("/_matrix/client/unstable/io.presence_core/presence/requests", (Func<HttpContext, Task<IResult>>)GetRequestsAsync);
        app.MapPost("/_matrix/client/unstable/io.presence_core/presence/requests/{observerId}", AnswerAsync);
        app.MapPost("/_matrix/client/unstable/io.presence_core/presence/list/polling", (Func<HttpContext, Task<IResult>>)PollingAsync);
        app.MapGet("/_matrix/client/versions", () => Json("""{"versions":["r0.6.1","v1.1","v1.2","v1.3","v1.4","v1.5","v1.6","v1.7","v1.8","v1.9","v1.10","v1.11"],"unstable_features":{}}"""));
        app.MapMatrixUnrecognized(); // everything else: 404 M_UNRECOGNIZED, which clients understand
    }

    private static IResult Json(string json) => Results.Text(json, "application/json");

    private static IResult Error(int status, string errcode, string message) => MatrixResults.Error(status, errcode, message);

    /// <summary>
    /// /sync: the device is connected while the request is open (a sync scope), presence comes from the stream after the
    /// presence part of <c>since</c>, and the request waits up to its <c>timeout</c>. A response lost in transit is sent
    /// again: the client's next request carries the old <c>since</c>.
    /// </summary>
    private async Task SyncAsync(HttpContext context)
    {
        if (await _auth.AuthenticateRequestAsync(context).ConfigureAwait(false) is not { } client)
        {
            return;
        }

        PresenceChanges presence;
        try
        {
            var (_, since) = MatrixPresenceSync.SplitToken(context.Request.Query["since"]);
            using (_sync.OpenSync(client, context.Request))
            {
                presence = await _sync.WaitForChangesAsync(client.User, since, context.Request, context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (PresenceException ex)
        {
            await MatrixResults.FromException(ex).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away
        }

        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteString("next_batch", MatrixPresenceSync.CombineToken("s", presence.NextToken));
        _sync.WritePresence(writer, presence);
        foreach (string section in new[] { "account_data", "to_device" })
        {
            writer.WriteStartObject(section);
            writer.WriteStartArray("events");
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteStartObject("rooms");
        foreach (string section in new[] { "join", "invite", "leave" })
        {
            writer.WriteStartObject(section);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private async Task<IResult> CreateFilterAsync(HttpContext context, string userId)
    {
        if (await _auth.AuthenticateRequestAsync(context).ConfigureAwait(false) is null)
        {
            return Results.Empty;
        }

        var body = await MatrixRequestBody.TryReadAsync(context.Request, MatrixPresenceEndpointOptions.MaxClientBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            return MatrixResults.BodyTooLarge(MatrixPresenceEndpointOptions.MaxClientBodyBytes);
        }

        if (_filters.Count >= 10_000)
        {
            return Error(400, "M_LIMIT_EXCEEDED", "The sample keeps at most 10,000 filters.");
        }

        // The sample stores filters and applies none of them; each distinct filter gets one ID.
        string text = System.Text.Encoding.UTF8.GetString(body);
        string id = _filters.FirstOrDefault(pair => pair.Value == text).Key ?? _filters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _filters.TryAdd(id, text);
        return Json($$"""{"filter_id":"{{id}}"}""");
    }

    private async Task<IResult> GetFilterAsync(HttpContext context, string userId, string filterId)
    {
        if (await _auth.AuthenticateRequestAsync(context).ConfigureAwait(false) is null)
        {
            return Results.Empty;
        }

        return _filters.TryGetValue(filterId, out var filter) ? Json(filter) : Error(404, "M_NOT_FOUND", "No such filter.");
    }

    private async Task<IResult> GetListAsync(HttpContext context, string userId)
    {
        if (await _auth.AuthenticateRequestAsync(context).ConfigureAwait(false) is not { } caller)
        {
            return Results.Empty;
        }

        if (userId != caller.User.Value)
        {
            return Error(403, "M_FORBIDDEN", "You can only read your own presence list.");
        }

        var now = _options.Time.GetUtcNow();
        var entries = Engine.GetPresenceList(caller.User).Select(item =>
        {
            JsonElement? presence = null;
            if (!item.Presence.IsUnknown)
            {
                using var doc = JsonDocument.Parse(MatrixPresenceCodec.WriteClientEvent(item.Presence, now));
                presence = doc.RootElement.Clone();
            }

            return new ListEntryDto { ObserverUser = item.Entry.Observer.Value, ObservedUser = item.Entry.Observed.Value, State = item.Entry.State.ToString().ToLowerInvariant(), Presence = presence };
        }).ToList();
        return Results.Text(JsonSerializer.Serialize(entries, SampleJsonContext.Default.ListListEntryDto), "application/json");
    }

    /// <summary>
    /// Changes a presence list all or nothing: every entry is checked before anything changes, and if the engine refuses an
    /// invite part-way, the invites already made by this request are taken back.
    /// </summary>
    private async Task<IResult> ChangeListAsync(HttpContext context, string userId)
    {
        if (await _auth.AuthenticateRequestAsync(context).ConfigureAwait(false) is not { } caller)
        {
            return Results.Empty;
        }

        if (userId != caller.User.Value)
        {
            return Error(403, "M_FORBIDDEN", "You can only change your own presence list.");
        }

        var (change, failure) = await ReadJsonAsync(context, SampleJsonContext.Default.ListChangeDto).ConfigureAwait(false);
        if (change is null)
        {
            return failure ?? Error(400, "M_BAD_JSON", "The body must be {\"invite\": [...], \"drop\": [...]}.");
        }

        var invites = new List<UserId>();
        var drops = new List<UserId>();
        foreach (var (names, into) in new[] { (change.Invite, invites), (change.Drop, drops) })
        {
            foreach (var name in names ?? [])
            {
                if (!UserId.TryParse(name, out var target, out var error))
                {
                    return Error(400, "M_INVALID_PARAM", $"{name}: {error}"); // nothing was changed
                }

                if (target == caller.User)
                {
                    return Error(400, "M_INVALID_PARAM", "You cannot add yourself to your presence list.");
                }

                into.Add(target);
            }
        }

        var existing = Engine.GetPresenceList(caller.User).Select(item => item.Entry.Observed).ToHashSet();
        var added = new List<UserId>();
        try
        {
            foreach (var target in invites)
            {
                await Engine.AddToPresenceListAsync(caller.User, target).ConfigureAwait(false);
                if (!existing.Contains(target))
                {
                    added.Add(target);
                }
            }
        }
        catch (Exception ex) when (ex is PresenceException or ArgumentException or InvalidOperationException)
        {
            foreach (var target in added)
            {
                await Engine.RemoveFromPresenceListAsync(caller.User, target).ConfigureAwait(false);
            }

            return ex is PresenceException presence ? MatrixResults.FromException(presence) : Error(400, "M_INVALID_PARAM", ex.Message);
        }

        foreach (var target in drops)
        {
            await Engine.RemoveFromPresenceListAsync(caller.User, target).ConfigureAwait(false);
        }

        return Json("{}");
    }

    private async Task<IResult> GetRequestsAsync(HttpContext context)
    {
        if (await _auth.AuthenticateRequestAsync(context).ConfigureAwait(false) is not { } caller)
        {
            return Results.Empty;
        }

        var requests = new RequestsDto
        {
            Requests = [.. Engine.GetPendingRequests(caller.User).Select(e => new ListEntryDto { ObserverUser = e.Observer.Value, ObservedUser = e.Observed.Value, State = "pending" })],
        };
        return Results.Text(JsonSerializer.Serialize(requests, SampleJsonContext.Default.RequestsDto), "application/json");
    }

    private async Task<IResult> AnswerAsync(HttpContext context, string observerId)
    {
        if (await _auth.AuthenticateRequestAsync(context).ConfigureAwait(false) is not { } caller)
        {
            return Results.Empty;
        }

        var (answer, failure) = await ReadJsonAsync(context, SampleJsonContext.Default.AnswerDto).ConfigureAwait(false);
        if (failure is not null)
        {
            return failure;
        }

        if (answer?.Allow is not { } allow || !UserId.TryParse(observerId, out var observer))
        {
            return Error(400, "M_INVALID_PARAM", "The body must be {\"allow\": true|false} and the path a user ID.");
        }

        try
        {
            await Engine.AnswerPresenceRequestAsync(caller.User, observer, allow).ConfigureAwait(false);
            return Json("{}");
        }
        catch (PresenceException ex)
        {
            return MatrixResults.FromException(ex);
        }
        catch (InvalidOperationException ex)
        {
            return Error(404, "M_NOT_FOUND", ex.Message);
        }
    }

    private async Task<IResult> PollingAsync(HttpContext context)
    {
        if (await _auth.AuthenticateRequestAsync(context).ConfigureAwait(false) is not { } caller)
        {
            return Results.Empty;
        }

        var (polling, failure) = await ReadJsonAsync(context, SampleJsonContext.Default.PollingDto).ConfigureAwait(false);
        if (failure is not null)
        {
            return failure;
        }

        if (polling?.Polling is not { } start)
        {
            return Error(400, "M_INVALID_PARAM", "The body must be {\"polling\": true|false}.");
        }

        if (start)
        {
            Engine.StartPolling(caller.User);
        }
        else
        {
            Engine.StopPolling(caller.User);
        }

        return Json("{}");
    }

    /// <summary>Reads a JSON body within 1 MiB (bounded while reading); the failure is 413 or 400 <c>M_BAD_JSON</c>.</summary>
    private static async Task<(T? Value, IResult? Failure)> ReadJsonAsync<T>(HttpContext context, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        var body = await MatrixRequestBody.TryReadAsync(context.Request, MatrixPresenceEndpointOptions.MaxClientBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            return (null, MatrixResults.BodyTooLarge(MatrixPresenceEndpointOptions.MaxClientBodyBytes));
        }

        try
        {
            return (JsonSerializer.Deserialize(body, type), null);
        }
        catch (JsonException)
        {
            return (null, Error(400, "M_BAD_JSON", "The body is not valid JSON of the expected shape."));
        }
    }
}
