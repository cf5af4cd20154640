// The character network, drawn with cytoscape (installed into static/vendor/ by
// scripts/vendor.sh). Nodes are characters (colour: emotion, size: energy or influence),
// edges are directed relationships (colour: strength red → grey → green, width: trust).
// Live events change element data in place — cy.getElementById(id).data({...}) — so the
// layout never moves under the reader; new characters and relationships are added beside
// their neighbours without a re-layout.

// --- The small part of cytoscape's API this module uses --------------------------------

/**
 * @typedef {object} CyPosition
 * @property {number} x
 * @property {number} y
 */

/**
 * @typedef {object} CyBox
 * @property {number} x1
 * @property {number} y1
 * @property {number} x2
 * @property {number} y2
 * @property {number} w
 * @property {number} h
 */

/**
 * @typedef {object} CyCollection
 * @property {number} length
 * @property {(fn: (element: CyElement) => void) => void} forEach
 * @property {(classes: string) => CyCollection} addClass
 * @property {(classes: string) => CyCollection} removeClass
 * @property {() => CyBox} boundingBox
 * @property {() => CyCollection} remove
 */

/**
 * @typedef {object} CyElement
 * @property {number} length
 * @property {() => string} id
 * @property {{(key: string): any, (values: Record<string, unknown>): CyElement}} data
 * @property {{(): CyPosition, (position: CyPosition): CyElement}} position
 * @property {(classes: string, duration?: number) => CyElement} flashClass
 * @property {(classes: string) => CyElement} addClass
 * @property {(classes: string) => CyElement} removeClass
 * @property {() => CyCollection} connectedEdges
 * @property {() => CyCollection} closedNeighborhood
 * @property {() => CyCollection} neighborhood
 * @property {() => CyCollection} remove
 */

/**
 * @typedef {object} CyEvent
 * @property {unknown} target
 */

/**
 * @typedef {object} CyElementDefinition
 * @property {"nodes" | "edges"} group
 * @property {Record<string, unknown>} data
 * @property {CyPosition} [position]
 */

/**
 * @typedef {object} CyCore
 * @property {(id: string) => CyElement} getElementById
 * @property {(elements: CyElementDefinition | CyElementDefinition[]) => CyCollection} add
 * @property {{(events: string, handler: (event: CyEvent) => void): CyCore, (events: string, selector: string, handler: (event: CyEvent) => void): CyCore}} on
 * @property {(options: Record<string, unknown>) => {run: () => void}} layout
 * @property {(elements?: CyCollection, padding?: number) => CyCore} fit
 * @property {() => CyCollection} nodes
 * @property {() => CyCollection} edges
 * @property {() => CyCollection} elements
 * @property {(fn: () => void) => void} batch
 * @property {() => void} resize
 * @property {{(): number, (level: number): CyCore}} zoom
 * @property {() => CyCore} center
 * @property {() => HTMLElement | null} container
 */

/** @typedef {(options: Record<string, unknown>) => CyCore} CytoscapeFactory */

// --- Page data ---------------------------------------------------------------------------

/**
 * @typedef {object} CharacterNode
 * @property {string} id
 * @property {string} name
 * @property {string} [bio]
 * @property {number} [openness]
 * @property {number} [conscientiousness]
 * @property {number} [extraversion]
 * @property {number} [agreeableness]
 * @property {number} [neuroticism]
 * @property {number} pleasure
 * @property {number} arousal
 * @property {number} dominance
 * @property {string} label emotion label
 * @property {number} energy
 * @property {string} status
 */

/**
 * @typedef {object} RelationshipEdge
 * @property {string} from
 * @property {string} to
 * @property {number} strength
 * @property {number} trust
 * @property {number} interaction_count
 * @property {string} label
 */

/** @typedef {"energy" | "influence"} SizeMode */

const MIN_NODE = 18;
const MAX_NODE = 48;
const NEGATIVE = [214, 69, 69];
const NEUTRAL = [176, 184, 196];
const POSITIVE = [47, 158, 68];
/** Above this many edges, straight overlapping "haystack" edges keep the frame rate up. */
const HAYSTACK_ABOVE_EDGES = 600;
/** A large network redraws at most this often while events stream in. */
const LARGE_DRAW_INTERVAL_MS = 1000;
/** The zoom a small network is shown at instead of filling the box. */
const COMFORTABLE_ZOOM = 1.25;
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/**
 * @param {number} value
 * @param {number} low
 * @param {number} high
 */
function clamp(value, low, high) {
  return Number.isFinite(value) ? Math.min(high, Math.max(low, value)) : low;
}

/**
 * Relationship strength -1..1 as a colour: red (negative) → grey → green (positive).
 * @param {number} strength
 * @returns {string}
 */
export function strengthColor(strength) {
  const s = clamp(strength, -1, 1);
  const end = s < 0 ? NEGATIVE : POSITIVE;
  const t = Math.abs(s);
  const mix = NEUTRAL.map((channel, i) => Math.round(channel + (end[i] - channel) * t));
  return `rgb(${mix[0]}, ${mix[1]}, ${mix[2]})`;
}

/**
 * Trust 0..1 as an edge width in pixels.
 * @param {number} trust
 */
export function trustWidth(trust) {
  return 1 + clamp(trust, 0, 1) * 5;
}

/** @type {Map<string, string>} */
const emotionColors = new Map();

/**
 * The colour of an emotion label, from the stylesheet's --emo-<label> custom properties.
 * @param {string} label
 * @returns {string}
 */
export function emotionColor(label) {
  const key = /^[a-z]+$/.test(label) ? label : "neutral";
  let color = emotionColors.get(key);
  if (!color) {
    const style = getComputedStyle(document.documentElement);
    color = style.getPropertyValue(`--emo-${key}`).trim() || style.getPropertyValue("--emo-neutral").trim() || "#9aa5b1";
    emotionColors.set(key, color);
  }
  return color;
}

/**
 * @param {string} from
 * @param {string} to
 */
export function edgeId(from, to) {
  return `${from}>${to}`;
}

/**
 * @param {RelationshipEdge} edge
 * @returns {Record<string, unknown>}
 */
function edgeData(edge) {
  return {
    id: edgeId(edge.from, edge.to),
    source: edge.from,
    target: edge.to,
    strength: edge.strength,
    trust: edge.trust,
    interaction_count: edge.interaction_count,
    label: edge.label,
    color: strengthColor(edge.strength),
    width: trustWidth(edge.trust),
  };
}

export class NetworkView {
  /**
   * @param {CyCore} cy
   * @param {CharacterNode[]} characters
   * @param {RelationshipEdge[]} relationships
   * @param {boolean} large
   * @param {(id: string | null) => void} onSelect
   */
  constructor(cy, characters, relationships, large, onSelect) {
    this.cy = cy;
    this.onSelect = onSelect;
    /** A big network: no transitions, no edge pulses (every redraw costs). */
    this.large = large;
    /** The page's model of the network; cytoscape's elements are its view, brought up to
     * date once per animation frame. @type {Map<string, CharacterNode>} */
    this.characters = new Map(characters.map((c) => [c.id, c]));
    /** @type {Map<string, RelationshipEdge>} edge id ("from>to") -> relationship */
    this.relationships = new Map(relationships.map((r) => [edgeId(r.from, r.to), r]));
    /** @type {Set<string>} */
    this.dirtyNodes = new Set();
    /** @type {Set<string>} */
    this.dirtyEdges = new Set();
    /** @type {Set<string>} relationships seen for the first time, added at the next draw */
    this.newEdges = new Set();
    this.frameRequested = false;
    this.lastDrawAt = 0;
    /** @type {SizeMode} */
    this.sizeMode = "energy";
    /** @type {Map<string, number>} character id -> influence 0..1 */
    this.influence = new Map();
    /** @type {string | null} */
    this.selected = null;
    /** How many element updates were drawn (tests and the curious read it). */
    this.updates = 0;
  }

  /**
   * Load cytoscape from static/vendor/ and draw the network.
   * @param {object} options
   * @param {HTMLElement} options.container
   * @param {string} options.cytoscapeUrl
   * @param {CharacterNode[]} options.characters
   * @param {RelationshipEdge[]} options.relationships
   * @param {(id: string | null) => void} options.onSelect
   * @returns {Promise<NetworkView>}
   */
  static async create(options) {
    const module = await import(options.cytoscapeUrl);
    const cytoscape = /** @type {CytoscapeFactory} */ (module.default);
    const known = new Set(options.characters.map((c) => c.id));
    const edges = options.relationships.filter((e) => known.has(e.from) && known.has(e.to));
    const large = edges.length > HAYSTACK_ABOVE_EDGES;
    /** @type {CyElementDefinition[]} */
    const elements = [
      ...options.characters.map((c) => ({ group: /** @type {const} */ ("nodes"), data: NetworkView.nodeData(c, "energy", undefined) })),
      ...edges.map((e) => ({ group: /** @type {const} */ ("edges"), data: edgeData(e) })),
    ];
    const cy = cytoscape({
      container: options.container,
      elements,
      style: NetworkView.style(large),
      layout: NetworkView.layoutOptions(options.characters.length, edges.length, options.container.clientWidth),
      minZoom: 0.15,
      maxZoom: 3,
      boxSelectionEnabled: false,
      autounselectify: true,
      textureOnViewport: large,
      hideEdgesOnViewport: edges.length > 1500,
      pixelRatio: large ? 1 : "auto",
    });
    // A small cast would be fitted at a giant zoom; keep it at a natural size, centred.
    if (cy.zoom() > COMFORTABLE_ZOOM) {
      cy.zoom(COMFORTABLE_ZOOM);
      cy.center();
    }
    const view = new NetworkView(cy, options.characters, edges, large, options.onSelect);
    cy.nodes().forEach((node) => {
      if (node.data("status") === "resting") node.addClass("resting");
    });
    cy.on("tap", "node", (event) => {
      const node = /** @type {CyElement} */ (event.target);
      view.onSelect(node.id());
    });
    cy.on("tap", (event) => {
      if (event.target === cy) view.onSelect(null);
    });
    return view;
  }

  /**
   * @param {number} nodeCount
   * @param {number} edgeCount
   * @param {number} width the container's width in pixels (a phone gets a tighter layout)
   * @returns {Record<string, unknown>}
   */
  static layoutOptions(nodeCount, edgeCount, width) {
    const spacing = clamp(width / 8, 45, 110);
    if (nodeCount <= 1) return { name: "grid", padding: 40 };
    if (nodeCount > 150 || edgeCount > 1200) {
      // Big casts: a force layout would take seconds; concentric by degree is instant.
      return { name: "concentric", padding: 20, minNodeSpacing: 6, animate: false, concentric: (/** @type {{degree: () => number}} */ n) => n.degree() };
    }
    return {
      name: "cose",
      animate: false,
      randomize: true,
      padding: 30,
      nodeDimensionsIncludeLabels: true,
      nodeRepulsion: () => 5 * spacing * spacing,
      nodeOverlap: 12,
      idealEdgeLength: () => spacing,
      edgeElasticity: () => 80,
      gravity: 0.6,
      componentSpacing: 60,
      numIter: 1500,
    };
  }

  /**
   * @param {boolean} large straight edges without arrows and no transitions
   * @returns {Record<string, unknown>[]}
   */
  static style(large) {
    const nodeTransition = large
      ? {}
      : { "transition-property": "background-color, width, height, border-color, border-width", "transition-duration": 400 };
    const edgeTransition = large ? {} : { "transition-property": "line-color, width, opacity", "transition-duration": 400 };
    return [
      {
        selector: "node",
        style: {
          "background-color": "data(color)",
          width: "data(size)",
          height: "data(size)",
          label: "data(name)",
          "font-family": FONT,
          "font-size": 12,
          "font-weight": 600,
          color: "#1d2433",
          "text-valign": "bottom",
          "text-margin-y": 5,
          "text-outline-color": "#ffffff",
          "text-outline-width": 2.5,
          "min-zoomed-font-size": large ? 9 : 7,
          "border-width": 2,
          "border-color": "#ffffff",
          ...nodeTransition,
        },
      },
      { selector: "node.resting", style: { opacity: 0.55 } },
      { selector: "node.picked", style: { "border-color": "#4338ca", "border-width": 5 } },
      { selector: "node.pulse", style: { "border-color": "#f59e0b", "border-width": 6 } },
      {
        selector: "edge",
        style: {
          "line-color": "data(color)",
          width: "data(width)",
          "curve-style": large ? "haystack" : "bezier",
          "haystack-radius": 0.4,
          "target-arrow-shape": large ? "none" : "triangle",
          "target-arrow-color": "data(color)",
          "arrow-scale": 0.7,
          opacity: large ? 0.5 : 0.75,
          ...edgeTransition,
        },
      },
      { selector: "edge.pulse", style: { opacity: 1, "z-index": 10 } },
      { selector: ".faded", style: { opacity: 0.12 } },
      { selector: "edge.near", style: { opacity: 1 } },
    ];
  }

  /**
   * @param {CharacterNode} character
   * @param {SizeMode} mode
   * @param {number | undefined} influence
   * @returns {Record<string, unknown>}
   */
  static nodeData(character, mode, influence) {
    const measure = mode === "influence" && influence !== undefined ? influence : character.energy;
    return {
      ...character,
      color: emotionColor(character.label),
      size: MIN_NODE + clamp(measure, 0, 1) * (MAX_NODE - MIN_NODE),
    };
  }

  /** @param {string} id */
  has(id) {
    return this.characters.has(id);
  }

  /**
   * What the page knows about a character now.
   * @param {string} id
   * @returns {CharacterNode | null}
   */
  character(id) {
    return this.characters.get(id) ?? null;
  }

  /** @param {string} id */
  nameOf(id) {
    return this.characters.get(id)?.name ?? "someone";
  }

  /**
   * Relationships touching a character: outgoing (how they regard others) and incoming.
   * @param {string} id
   * @returns {{outgoing: RelationshipEdge[], incoming: RelationshipEdge[]}}
   */
  relationshipsOf(id) {
    /** @type {RelationshipEdge[]} */
    const outgoing = [];
    /** @type {RelationshipEdge[]} */
    const incoming = [];
    for (const edge of this.relationships.values()) {
      if (edge.from === id) outgoing.push(edge);
      else if (edge.to === id) incoming.push(edge);
    }
    return { outgoing, incoming };
  }

  /** Counts for the stats cards. */
  counts() {
    return { characters: this.characters.size, relationships: this.relationships.size };
  }

  /**
   * Apply a character's new emotion/energy (from character_state_changed or an interaction).
   * @param {string} id
   * @param {Partial<CharacterNode>} state
   */
  updateCharacter(id, state) {
    const current = this.characters.get(id);
    if (!current) {
      if (state.status === "archived" || !state.name) return;
      this.addCharacter(/** @type {CharacterNode} */ ({ pleasure: 0, arousal: 0, dominance: 0, label: "neutral", energy: 1, status: "active", ...state, id }));
      return;
    }
    if (state.status === "archived") {
      this.characters.delete(id);
      for (const [key, edge] of this.relationships) {
        if (edge.from === id || edge.to === id) this.relationships.delete(key);
      }
      this.cy.getElementById(id).remove();
      this.bump(1);
      return;
    }
    const next = { ...current };
    for (const key of /** @type {(keyof CharacterNode)[]} */ (["name", "label", "energy", "pleasure", "arousal", "dominance", "status"])) {
      if (state[key] !== undefined && state[key] !== null) {
        /** @type {Record<string, unknown>} */ (next)[key] = state[key];
      }
    }
    this.characters.set(id, next);
    this.dirtyNodes.add(id);
    this.scheduleDraw();
  }

  /** @param {CharacterNode} character */
  addCharacter(character) {
    this.characters.set(character.id, character);
    const box = this.cy.nodes().length ? this.cy.nodes().boundingBox() : { x1: 0, y1: 0, w: 200, h: 200 };
    const position = { x: box.x1 + Math.random() * box.w, y: box.y1 + Math.random() * box.h };
    this.cy.add({ group: "nodes", data: NetworkView.nodeData(character, this.sizeMode, undefined), position });
    this.bump(1);
  }

  /**
   * Apply one entry of relationship_changed.changes (absolute values, so applying twice is
   * harmless). A pair seen for the first time is added as a new edge.
   * @param {Record<string, any>} change
   */
  updateRelationship(change) {
    const from = String(change.from);
    const to = String(change.to);
    if (!this.has(from) || !this.has(to)) return;
    /** @type {RelationshipEdge} */
    const edge = {
      from,
      to,
      strength: Number(change.strength_after),
      trust: Number(change.trust_after),
      interaction_count: Number(change.interaction_count ?? 0),
      label: String(change.label ?? ""),
    };
    const key = edgeId(from, to);
    const known = this.relationships.has(key);
    this.relationships.set(key, edge);
    (known ? this.dirtyEdges : this.newEdges).add(key);
    this.scheduleDraw();
  }

  /** Bring cytoscape's elements up to date with the model, new edges included: once per
   * animation frame, and in a large network at most every LARGE_DRAW_INTERVAL_MS (each
   * change makes cytoscape redraw all 2,000 edges, which costs tens of milliseconds; the page
   * stays smooth and the graph at most that much behind). */
  scheduleDraw() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    const wait = this.large ? Math.max(0, this.lastDrawAt + LARGE_DRAW_INTERVAL_MS - performance.now()) : 0;
    window.setTimeout(() => requestAnimationFrame(() => this.draw()), wait);
  }

  draw() {
    this.frameRequested = false;
    this.lastDrawAt = performance.now();
    const nodes = [...this.dirtyNodes];
    const edges = [...this.dirtyEdges];
    /** @type {CyElementDefinition[]} */
    const added = [];
    for (const key of this.newEdges) {
      const edge = this.relationships.get(key);
      if (edge && this.has(edge.from) && this.has(edge.to)) added.push({ group: "edges", data: edgeData(edge) });
    }
    this.dirtyNodes.clear();
    this.dirtyEdges.clear();
    this.newEdges.clear();
    this.cy.batch(() => {
      if (added.length) this.cy.add(added);
      for (const id of nodes) {
        const character = this.characters.get(id);
        const node = this.cy.getElementById(id);
        if (!character || !node.length) continue;
        node.data(NetworkView.nodeData(character, this.sizeMode, this.influence.get(id)));
        if (character.status === "resting") node.addClass("resting");
        else node.removeClass("resting");
      }
      for (const key of edges) {
        const edge = this.relationships.get(key);
        const element = this.cy.getElementById(key);
        if (edge && element.length) element.data(edgeData(edge));
      }
    });
    if (added.length && this.selected) this.highlight(this.selected);
    this.bump(nodes.length + edges.length + added.length);
  }

  /**
   * Briefly mark the characters and the edges between them of an interaction (small
   * networks only).
   * @param {string[]} ids
   */
  pulse(ids) {
    if (this.large) return; // two extra redraws of a big network per interaction: not worth it
    for (const id of ids) {
      const node = this.cy.getElementById(id);
      if (node.length) node.flashClass("pulse", 1200);
    }
    if (ids.length === 2) {
      for (const [a, b] of [[ids[0], ids[1]], [ids[1], ids[0]]]) {
        const edge = this.cy.getElementById(edgeId(a, b));
        if (edge.length) edge.flashClass("pulse", 1200);
      }
    }
  }

  /**
   * Mark a character as picked and fade what is not connected to it (null clears).
   * @param {string | null} id
   */
  select(id) {
    this.selected = id && this.has(id) ? id : null;
    this.highlight(this.selected);
  }

  /** @param {string | null} id */
  highlight(id) {
    this.cy.batch(() => {
      this.cy.elements().removeClass("picked faded near");
      if (!id) return;
      const node = this.cy.getElementById(id);
      if (!node.length) return;
      this.cy.elements().addClass("faded");
      node.closedNeighborhood().removeClass("faded");
      node.connectedEdges().addClass("near");
      node.addClass("picked");
    });
  }

  /**
   * Size nodes by energy or by the influence ranking (when the graph service answers).
   * @param {SizeMode} mode
   */
  setSizeMode(mode) {
    this.sizeMode = mode;
    for (const id of this.characters.keys()) this.dirtyNodes.add(id);
    this.scheduleDraw();
  }

  /** @param {Map<string, number>} scores character id -> score (any scale) */
  setInfluence(scores) {
    const values = [...scores.values()].filter(Number.isFinite);
    const max = Math.max(...values, 0);
    this.influence = new Map([...scores].map(([id, score]) => [id, max > 0 ? score / max : 0]));
    if (this.sizeMode === "influence") this.setSizeMode("influence");
  }

  fit() {
    this.cy.fit(undefined, 30);
    if (this.cy.zoom() > COMFORTABLE_ZOOM) {
      this.cy.zoom(COMFORTABLE_ZOOM);
      this.cy.center();
    }
  }

  relayout() {
    const counts = this.counts();
    const width = this.cy.container()?.clientWidth ?? 800;
    const layout = this.cy.layout({ ...NetworkView.layoutOptions(counts.characters, counts.relationships, width), animate: false });
    layout.run();
    this.fit();
  }

  resize() {
    this.cy.resize();
  }

  /** @param {number} count */
  bump(count) {
    this.updates += count;
  }
}
