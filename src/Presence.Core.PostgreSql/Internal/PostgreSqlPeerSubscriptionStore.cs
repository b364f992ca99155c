using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;

namespace Presence.PostgreSql.Internal;

/// <summary>Peer subscriptions in PostgreSQL, written through: a call returns when the change is committed.</summary>
internal sealed class PostgreSqlPeerSubscriptionStore(PostgreSqlPresenceStore store) : IPeerSubscriptionStore
{
    public async ValueTask SaveAsync(IReadOnlyList<PeerSubscription> subscriptions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscriptions);
        if (subscriptions.Count == 0)
        {
            return;
        }

        var peers = new string[subscriptions.Count];
        var users = new string[subscriptions.Count];
        var expires = new DateTime[subscriptions.Count];
        for (int i = 0; i < subscriptions.Count; i++)
        {
            var subscription = subscriptions[i] ?? throw new ArgumentNullException(nameof(subscriptions));
            peers[i] = subscription.Peer.Value;
            users[i] = subscription.User.Value;
            expires[i] = subscription.ExpiresAt.UtcDateTime;
        }

        await store.RunAsync("saving peer subscriptions", "peer_subscription", async connection =>
        {
            var command = new NpgsqlCommand(
                $"""
                INSERT INTO {store.QuotedSchema}.peer_subscriptions (peer, user_id, expires_at)
                SELECT * FROM unnest(@peers, @users, @expires)
                ON CONFLICT (peer, user_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
                """, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string[]>("peers", peers));
                command.Parameters.Add(new NpgsqlParameter<string[]>("users", users));
                command.Parameters.Add(new NpgsqlParameter<DateTime[]>("expires", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { TypedValue = expires });
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask RemoveAsync(ServerName peer, IReadOnlyCollection<UserId> users, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(users);
        if (users.Count == 0)
        {
            return;
        }

        var ids = users.Select(static user => user.Value).ToArray();
        await store.RunAsync("removing peer subscriptions", "peer_subscription", async connection =>
        {
            var command = new NpgsqlCommand($"DELETE FROM {store.QuotedSchema}.peer_subscriptions WHERE peer = @peer AND user_id = ANY(@users)", connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string>("peer", peer.Value));
                command.Parameters.Add(new NpgsqlParameter<string[]>("users", ids));
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<PeerSubscription> LoadAllAsync(DateTimeOffset now, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var found = new List<PeerSubscription>();
        await store.RunAsync("reading peer subscriptions", "peer_subscription", async connection =>
        {
            found.Clear();
            var command = new NpgsqlCommand(
                $"DELETE FROM {store.QuotedSchema}.peer_subscriptions WHERE expires_at <= @now; SELECT peer, user_id, expires_at FROM {store.QuotedSchema}.peer_subscriptions",
                connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<DateTime>("now", NpgsqlDbType.TimestampTz) { TypedValue = now.UtcDateTime });
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        if (ServerName.TryParse(reader.GetString(0), out var peer) && UserId.TryParse(reader.GetString(1), out var user))
                        {
                            found.Add(new PeerSubscription(peer, user, new DateTimeOffset(reader.GetFieldValue<DateTime>(2), TimeSpan.Zero)));
                        }
                        else
                        {
                            store.BadRow("peer_subscriptions");
                        }
                    }
                }
            }
        }, cancellationToken).ConfigureAwait(false);

        foreach (var subscription in found)
        {
            yield return subscription;
        }
    }
}
