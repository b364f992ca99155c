using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Presence;

/// <summary>
/// Presence for a host's own <c>/sync</c>: opens the device's sync scope for the request (with its <c>set_presence</c>),
/// waits on the presence stream for the request's <c>timeout</c>, writes the <c>"presence"</c> section into the host's
/// <see cref="Utf8JsonWriter"/>, and carries the presence stream token inside the host's <c>next_batch</c>.
/// </summary>
/// <remarks>
/// <code>
/// var (hostSince, presenceSince) = MatrixPresenceSync.SplitToken(request.Query["since"]);
/// using var scope = sync.OpenSync(client, request);                        // the device is connected while this is open
/// var presence = await sync.WaitForChangesAsync(client.User, presenceSince, request, ct);
/// writer.WriteString("next_batch", MatrixPresenceSync.CombineToken(myNextBatch, presence.NextToken));
/// sync.WritePresence(writer, presence);                                    // "presence": { "events": [...] }
/// </code>
/// A response lost in transit loses nothing: the client asks again with its old <c>since</c> and gets the same changes.
/// The helper decides nothing about presence; every rule is the engine's.
/// </remarks>
public sealed class MatrixPresenceSync
{
    /// <summary>The separator between the host's token and the presence token in a combined <c>next_batch</c>.</summary>
    public const char TokenSeparator = '~';

    /// <summary>The longest long-poll <see cref="ReadTimeout"/> allows; longer requests are cut to it.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(3);

    private readonly IPresenceEngine _engine;
    private readonly TimeProvider _time;

    /// <summary>Creates the helper.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="timeProvider">The clock <c>last_active_ago</c> is computed with; <see cref="TimeProvider.System"/> when <see langword="null"/>. Use the engine's.</param>
    public MatrixPresenceSync(IPresenceEngine engine, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Opens the device's sync scope for a <c>/sync</c> request, with the request's <c>set_presence</c>. Dispose it when the response is written.</summary>
    /// <param name="client">The authenticated client.</param>
    /// <param name="request">The <c>/sync</c> request.</param>
    /// <returns>The scope.</returns>
    /// <exception cref="PresenceException"><c>set_presence</c> is not <c>online</c>, <c>unavailable</c> or <c>offline</c> (<see cref="PresenceErrorCodes.InvalidParam"/>), or the engine refused.</exception>
    public IDisposable OpenSync(MatrixClient client, HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        return _engine.OpenSync(client.User, client.DeviceId, ReadSetPresence(request));
    }

    /// <summary>Reads the presence stream for a <c>/sync</c> request, waiting up to the request's <c>timeout</c> for a change the viewer may see.</summary>
    /// <param name="viewer">The syncing user.</param>
    /// <param name="since">The presence part of the request's <c>since</c> (see <see cref="SplitToken"/>).</param>
    /// <param name="request">The <c>/sync</c> request; its <c>timeout</c> query parameter is read with <see cref="ReadTimeout"/>.</param>
    /// <param name="cancellationToken">The request's cancellation (the client went away), or the host's own wake-up.</param>
    /// <returns>The changes and the next presence token.</returns>
    public ValueTask<PresenceChanges> WaitForChangesAsync(UserId viewer, PresenceStreamToken since, HttpRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _engine.WaitForChangesAsync(viewer, since, ReadTimeout(request), cancellationToken: cancellationToken);
    }

    /// <summary>Writes the <c>"presence"</c> property of a <c>/sync</c> response, <c>{"events": [m.presence, ...]}</c>, into the host's writer (inside the response object).</summary>
    /// <param name="writer">The host's writer, positioned inside the response object.</param>
    /// <param name="changes">What <see cref="WaitForChangesAsync"/> returned.</param>
    public void WritePresence(Utf8JsonWriter writer, PresenceChanges changes)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(changes);
        writer.WritePropertyName("presence");
        MatrixPresenceCodec.WriteSyncPresence(writer, changes.Changes, _time.GetUtcNow());
    }

    /// <summary>Reads a <c>/sync</c> request's <c>set_presence</c>.</summary>
    /// <param name="request">The request.</param>
    /// <returns>The state, or <see langword="null"/> when absent.</returns>
    /// <exception cref="PresenceException">Not <c>online</c>, <c>unavailable</c> or <c>offline</c> (<see cref="PresenceErrorCodes.InvalidParam"/>).</exception>
    public static PresenceState? ReadSetPresence(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? value = request.Query["set_presence"];
        return value switch
        {
            null or "" => null,
            "online" => PresenceState.Online,
            "unavailable" => PresenceState.Unavailable,
            "offline" => PresenceState.Offline,
            _ => throw new PresenceException(PresenceErrorCodes.InvalidParam, "set_presence must be online, unavailable or offline."),
        };
    }

    /// <summary>Reads a <c>/sync</c> request's <c>timeout</c> (milliseconds; absent means 0, as the specification says), cut to <see cref="MaxTimeout"/>.</summary>
    /// <param name="request">The request.</param>
    /// <returns>How long to wait.</returns>
    /// <exception cref="PresenceException">Not a non-negative integer (<see cref="PresenceErrorCodes.InvalidParam"/>).</exception>
    public static TimeSpan ReadTimeout(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? value = request.Query["timeout"];
        if (string.IsNullOrEmpty(value))
        {
            return TimeSpan.Zero;
        }

        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long ms))
        {
            return ms == 0 && value.All(char.IsAsciiDigit)
                ? MaxTimeout // digits beyond a long: as long as allowed
                : throw new PresenceException(PresenceErrorCodes.InvalidParam, "timeout must be a number of milliseconds.");
        }

        return ms >= MaxTimeout.TotalMilliseconds ? MaxTimeout : TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>Puts the presence token into the host's sync token: <c>{hostToken}~{presenceToken}</c>.</summary>
    /// <param name="hostToken">The host's own <c>next_batch</c>; it must not contain <see cref="TokenSeparator"/>.</param>
    /// <param name="presence">The presence token (<see cref="PresenceChanges.NextToken"/>).</param>
    /// <returns>The combined token.</returns>
    /// <exception cref="ArgumentException"><paramref name="hostToken"/> contains the separator.</exception>
    public static string CombineToken(string hostToken, PresenceStreamToken presence)
    {
        ArgumentNullException.ThrowIfNull(hostToken);
        if (hostToken.Contains(TokenSeparator, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The host's token must not contain '{TokenSeparator}'.", nameof(hostToken));
        }

        return presence.IsNone ? hostToken : hostToken + TokenSeparator + presence.ToString();
    }

    /// <summary>
    /// Takes a combined <c>since</c> apart. A token without a presence part, or with one this library cannot have written,
    /// gives <see cref="PresenceStreamToken.None"/>: the client gets a full presence snapshot, never an error.
    /// </summary>
    /// <param name="since">The request's <c>since</c>; <see langword="null"/> or empty for an initial sync.</param>
    /// <returns>The host's part (empty when absent) and the presence token.</returns>
    public static (string HostToken, PresenceStreamToken Presence) SplitToken(string? since)
    {
        if (string.IsNullOrEmpty(since))
        {
            return (string.Empty, PresenceStreamToken.None);
        }

        int at = since.IndexOf(TokenSeparator, StringComparison.Ordinal);
        if (at < 0)
        {
            return (since, PresenceStreamToken.None);
        }

        return (since[..at], PresenceStreamToken.TryParse(since[(at + 1)..], out var token) ? token : PresenceStreamToken.None);
    }
}
