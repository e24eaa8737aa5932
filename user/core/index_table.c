/* SPDX-License-Identifier: GPL-2.0 */
/* Local receiver indices: random, unique, shared by pending handshakes and live keypairs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "device.h"
#include "crypto.h"

#define INDEX_TABLE_MIN 64
#define INDEX_TOMBSTONE 0xffu

/* Indices are random, so their low bits already spread evenly. */
static uint32_t index_slot(const struct index_table *t, uint32_t index)
{
	return index & (t->size - 1);
}

int index_table_init(struct index_table *t)
{
	t->slots = calloc(INDEX_TABLE_MIN, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->size = INDEX_TABLE_MIN;
	t->used = 0;
	return 0;
}

void index_table_free(struct index_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct index_entry *index_table_find(struct index_table *t, uint32_t index)
{
	for (uint32_t i = index_slot(t, index), n = 0; n < t->size; i = (i + 1) & (t->size - 1), n++) {
		struct index_entry *e = &t->slots[i];

		if (e->index == index && e->type != INDEX_TOMBSTONE)
			return e;
		if (!e->index && e->type != INDEX_TOMBSTONE)
			return NULL;
	}
	return NULL;
}

/* Keeps the load under one half (tombstones included) so probes stay short. */
static int index_table_grow(struct index_table *t)
{
	struct index_table bigger = { .size = INDEX_TABLE_MIN, .used = 0 };
	uint32_t live = 0;

	for (uint32_t i = 0; i < t->size; i++)
		live += t->slots[i].index != 0;
	/* Rehashing also drops the tombstones, so churn alone does not grow the table. */
	while ((live + 1) * 4 > bigger.size)
		bigger.size *= 2;
	bigger.slots = calloc(bigger.size, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->size; i++) {
		struct index_entry *e = &t->slots[i];
		uint32_t j;

		if (!e->index || e->type == INDEX_TOMBSTONE)
			continue;
		for (j = index_slot(&bigger, e->index); bigger.slots[j].index; j = (j + 1) & (bigger.size - 1))
			;
		bigger.slots[j] = *e;
		bigger.used++;
	}
	free(t->slots);
	*t = bigger;
	return 0;
}

uint32_t index_table_insert(struct index_table *t, uint8_t type, struct peer *peer, struct noise_keypair *kp)
{
	uint32_t index;

	do
		index = crypto_random_u32();
	while (!index || index_table_find(t, index));
	return index_table_insert_at(t, index, type, peer, kp) ? 0 : index;
}

int index_table_insert_at(struct index_table *t, uint32_t index, uint8_t type, struct peer *peer,
			  struct noise_keypair *kp)
{
	uint32_t i;

	if (!index || index_table_find(t, index))
		return -EEXIST;
	if ((t->used + 1) * 2 > t->size && index_table_grow(t) < 0)
		return -ENOMEM;
	for (i = index_slot(t, index); t->slots[i].index; i = (i + 1) & (t->size - 1))
		;
	if (t->slots[i].type != INDEX_TOMBSTONE)
		t->used++;
	t->slots[i] = (struct index_entry){ .index = index, .type = type, .peer = peer, .keypair = kp };
	return 0;
}

void index_table_replace(struct index_table *t, uint32_t index, uint8_t type, struct noise_keypair *kp)
{
	struct index_entry *e = index_table_find(t, index);

	if (e) {
		e->type = type;
		e->keypair = kp;
	}
}

void index_table_remove(struct index_table *t, uint32_t index)
{
	struct index_entry *e = index ? index_table_find(t, index) : NULL;

	if (e)
		*e = (struct index_entry){ .index = 0, .type = INDEX_TOMBSTONE };
}

struct index_entry *index_table_lookup(struct index_table *t, uint32_t index, uint8_t type_mask)
{
	struct index_entry *e;

	if (!index)
		return NULL;
	e = index_table_find(t, index);
	return e && (e->type & type_mask) ? e : NULL;
}
